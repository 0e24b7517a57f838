import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { CLI, fixture, ROOT, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function workerPids(output: string): number[] {
  return [...output.matchAll(/worker \d+ \(pid (\d+)\) ready/g)].map((m) => Number(m[1]));
}

describe('process basics', () => {
  test('a worker killed with SIGKILL comes back in its slot, and the other worker\'s clients notice nothing', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const victim = JSON.parse((await exchange(`${corral.url}/health`, { agent: false })).body) as { pid: number; slot: number };
    // A WebSocket client that lives on the other worker keeps acking throughout.
    let bystander = connect(corral.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    t.after(() => bystander.disconnect());
    for (let i = 0; i < 10; i++) {
      const r = (await bystander.timeout(5000).emitWithAck('echo', 0)) as { pid: number };
      if (r.pid !== victim.pid) break;
      bystander.disconnect();
      bystander = connect(corral.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    }
    const bystanderPid = ((await bystander.timeout(5000).emitWithAck('echo', 0)) as { pid: number }).pid;
    assert.notEqual(bystanderPid, victim.pid);
    let disconnected = false;
    bystander.on('disconnect', () => (disconnected = true));

    process.kill(victim.pid, 'SIGKILL');
    await corral.waitForOutput(new RegExp(`worker ${victim.slot} \\(pid ${victim.pid}\\) was killed by SIGKILL`));
    await corral.waitForOutput(new RegExp(`(?:ready: serving[^]*){3}`));
    const replacement = workerPids(corral.output()).at(-1)!;
    assert.notEqual(replacement, victim.pid);
    await waitFor(async () => {
      const h = JSON.parse((await exchange(`${corral.url}/health`, { agent: false })).body) as { pid: number; slot: number };
      return h.pid === replacement && h.slot === victim.slot;
    }, 10_000, 'the new worker to serve its slot');
    for (let i = 0; i < 20; i++) assert.equal(((await bystander.timeout(5000).emitWithAck('echo', i)) as { pid: number }).pid, bystanderPid);
    assert.equal(disconnected, false);
  });

  test('SIGTERM drains and stops the whole tree with exit code 0', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const pids = workerPids(corral.output());
    assert.equal(pids.length, 2);
    assert.equal(await corral.stop(), 0);
    assert.match(corral.output(), /stopped: every worker drained/);
    for (const pid of pids) await waitFor(() => !alive(pid), 5000, `worker ${pid} to exit`);
  });

  test('when the primary is killed with SIGKILL, its workers exit too', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const pids = workerPids(corral.output());
    corral.proc.kill('SIGKILL');
    for (const pid of pids) await waitFor(() => !alive(pid), 10_000, `orphan worker ${pid} to exit`);
  });

  test('--workers auto starts one worker per core it may use, and each log line says where it serves', async (t) => {
    // Pinned to one core (taskset), auto means 1: unlike the helper's default of 2, so a broken auto shows.
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--workers', 'auto'], waitReady: 1, cpus: '0' });
    assert.match(corral.output(), /, 1 worker, sticky=/);
    const lines = corral.output().match(/worker \d+ \(pid \d+\) ready: serving http:\/\/127\.0\.0\.1:\d+/g) ?? [];
    assert.equal(lines.length, 1);
    assert.ok(lines.every((l) => l.endsWith(`:${corral.port}`)));
    assert.equal(availableParallelism() >= 1, true);
  });
});

describe('bad configuration gets a message that says what to do', () => {
  const run = (...args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, 'start', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stderr: r.stderr };
  };

  test('a bad --workers, --sticky or --port names the option and what it accepts (exit 2)', () => {
    const cases: [string[], RegExp][] = [
      [['--workers', '0'], /--workers.*whole number from 1 to 1024, or "auto"/],
      [['--workers', 'many'], /--workers/],
      [['--sticky', 'cookie-jar'], /--sticky.*"sid", "ip", "cookie", "query:NAME", "header:NAME", "none".*"cookie-jar"/],
      [['--port', '70000'], /--port.*0 to 65535/],
      [['--head-timeout', '-5'], /--head-timeout/],
    ];
    for (const [flags, message] of cases) {
      const r = run(fixture('echo-io.js'), ...flags);
      assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /ERR_CORRAL_BAD_OPTION/);
    }
  });

  test('a missing app says which path it tried', () => {
    const r = run('no/such/app.js');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /app not found: .*no\/such\/app\.js/);
    assert.match(r.stderr, /ERR_CORRAL_APP_NOT_FOUND/);
  });

  test('a port in use is reported as such, and nothing is left running', async (t) => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const child = spawn(process.execPath, [CLI, 'start', fixture('echo-io.js'), '--port', String(port), '--host', '127.0.0.1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`127\\.0\\.0\\.1:${port}: the port is already in use.*--port`));
    assert.match(stderr, /ERR_CORRAL_PORT_IN_USE/);
  });
});

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { io as connect, type Socket } from 'socket.io-client';
import { CLI, fixture, ROOT, startCorral, waitFor, type Running } from './helpers/corral';
import { exchange } from './helpers/engine';

const tempDirs: string[] = [];
after(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A temp dir of this file's, removed when its tests are done. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-test-'));
  tempDirs.push(dir);
  return dir;
}

function ctl(corral: Running, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const r = spawnSync(process.execPath, [CLI, ...args, '--control', path], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A control command without blocking this process (its clients keep running meanwhile). Rejects on a non-zero exit. */
async function ctlAsync(corral: Running, ...args: string[]): Promise<string> {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--control', path], { cwd: ROOT, timeout: 60_000 });
  return stdout;
}

async function whoAnswers(corral: Running, n = 20): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < n; i++) pids.add((JSON.parse((await exchange(`${corral.url}/`, { agent: false })).body) as { pid: number }).pid);
  return pids;
}

/** Keep-alive HTTP load on `connections` connections until stopped; counts failures. */
function httpLoad(url: string, connections: number): { stop(): Promise<{ ok: number; failed: string[] }> } {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let running = true;
  const failed: string[] = [];
  let ok = 0;
  const lanes = Array.from({ length: connections }, async () => {
    while (running) {
      try {
        const r = await exchange(`${url}/`, { agent });
        if (r.status === 200) ok++;
        else failed.push(`status ${r.status}`);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(lanes);
      agent.destroy();
      return { ok, failed };
    },
  };
}

describe('supervisor', () => {
  test('a rolling reload under load fails no HTTP request and moves every Socket.IO client to a new worker', async (t) => {
    const dir = tempDir();
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    const corral = await startCorral(t, fixture('versioned-app.js'), { env: { VERSION_FILE: versionFile } });
    const oldPids = await whoAnswers(corral);
    assert.equal(oldPids.size, 2);

    const clients: { socket: Socket; lost: number; disconnects: number; sent: number; acked: number }[] = [];
    t.after(() => clients.forEach((c) => c.socket.disconnect()));
    for (let i = 0; i < 100; i++) {
      const transports = i % 2 === 0 ? ['polling'] : ['polling', 'websocket'];
      const socket = connect(corral.url, { forceNew: true, transports, reconnectionDelay: 100, reconnectionDelayMax: 500 });
      const c = { socket, lost: 0, disconnects: 0, sent: 0, acked: 0 };
      socket.on('disconnect', () => c.disconnects++);
      clients.push(c);
    }
    await waitFor(() => clients.every((c) => c.socket.connected), 20_000, '100 clients to connect');
    let chatting = true;
    // Bounded even when an assertion fails before the loop is told to stop.
    const chatDeadline = Date.now() + 60_000;
    t.after(() => (chatting = false));
    const chatter = clients.map(async (c) => {
      while (chatting && Date.now() < chatDeadline) {
        if (!c.socket.connected) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const disconnectsBefore = c.disconnects;
        c.sent++;
        try {
          await c.socket.timeout(5000).emitWithAck('echo', c.sent);
          c.acked++;
        } catch {
          // An ack may be lost only when the client saw its connection go.
          if (c.disconnects === disconnectsBefore && c.socket.connected) c.lost++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const load = httpLoad(corral.url, 4);

    await waitFor(() => clients.every((c) => c.acked > 0), 20_000, 'every client to have an ack before the reload');
    writeFileSync(versionFile, 'v2');
    // Asynchronously: a spawnSync here would stop this process's clients and HTTP load for the whole reload.
    const ackedBefore = clients.reduce((n, c) => n + c.acked, 0);
    const reload = await ctlAsync(corral, 'reload');
    assert.match(reload, /reload done: 2 workers replaced in \d+ ms/);
    assert.ok(clients.reduce((n, c) => n + c.acked, 0) > ackedBefore, 'the clients were served during the reload');
    const ackedAfter = clients.map((c) => c.acked);
    await waitFor(() => clients.every((c, i) => c.acked > ackedAfter[i]!), 20_000, 'every client to be served again after the reload');

    const { ok, failed } = await load.stop();
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} HTTP requests failed during the reload`);
    assert.ok(ok > 20, `too little HTTP load: ${ok}`);
    // The ready workers as the primary routes to them (least-loaded new connections may all
    // reach one worker while the reconnected clients weigh on the other).
    const ready = (JSON.parse(ctl(corral, 'status', '--json').stdout) as { workers: { pid: number; state: string }[] }).workers.filter((w) => w.state === 'ready');
    const newPids = new Set(ready.map((w) => w.pid));
    assert.equal(newPids.size, 2);
    for (const p of newPids) assert.ok(!oldPids.has(p), 'old workers should be gone from routing');
    for (const p of await whoAnswers(corral)) assert.ok(newPids.has(p), 'only new workers answer');

    await waitFor(() => clients.every((c) => c.socket.connected), 20_000, 'every client to be connected again');
    chatting = false;
    await Promise.all(chatter);
    const versions = await Promise.all(clients.map(async (c) => (await c.socket.timeout(5000).emitWithAck('echo', 0)) as { pid: number; version: string }));
    assert.ok(versions.every((v) => v.version === 'v2' && newPids.has(v.pid)), 'every client ends on a new worker');
    assert.equal(clients.reduce((n, c) => n + c.lost, 0), 0, 'an ack was lost without a disconnect');
    assert.ok(clients.reduce((n, c) => n + c.acked, 0) > 100);
  });

  test('a reload to a version that throws at start stops, says why, and the old workers keep serving', async (t) => {
    const dir = tempDir();
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    const corral = await startCorral(t, fixture('versioned-app.js'), { env: { VERSION_FILE: versionFile }, args: ['--max-restarts', '2'] });
    const before = await whoAnswers(corral);
    writeFileSync(versionFile, 'crash');
    const reload = ctl(corral, 'reload');
    assert.equal(reload.status, 1);
    assert.match(reload.stderr, /reload stopped at slot 0/);
    assert.match(reload.stderr, /database unreachable/);
    assert.deepEqual(await whoAnswers(corral), before);
  });

  /** `corral start APP ...extra` to its exit (bounded): exit code and everything it printed. */
  async function runToExit(app: string, extra: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, [CLI, 'start', fixture(app), '-w', '2', '-p', '0', '-H', '127.0.0.1', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    return { code, output };
  }

  test('a crash loop after the app was ready halts the slot within the budget, and corral exits non-zero with the app\'s error', async () => {
    const { code, output } = await runToExit('flaky-app.js', ['--max-restarts', '2', '--min-uptime', '5000']);
    assert.equal(code, 1, output);
    assert.match(output, /slot \d is in a crash loop/);
    assert.match(output, /giving up \[ERR_CORRAL_WORKER_CRASH_LOOP\].*\n[^]*lost the database connection/);
  });

  test('an app that never becomes ready: corral gives up after a retry, with the app\'s error shown once, not once per try', async () => {
    const { code, output } = await runToExit('crash-app.js', []);
    assert.equal(code, 1, output);
    assert.match(output, /giving up \[ERR_CORRAL_WORKER_CRASH_LOOP\]: the app never became ready: 3 workers failed before any was ready[^]*node [^\n]*crash-app\.js/);
    assert.equal(output.match(/starting a new worker/g)?.length, 2, 'one retry per slot at most');
    // Printed live once, and once more in the verdict.
    assert.equal(output.match(/cannot read config\.yml/g)?.length, 2, output);
    assert.ok(output.split('\n').length < 20, `${output.split('\n').length} lines:\n${output}`);
  });

  test('SIGTERM lets in-flight requests finish, and cuts (and reports) one that outlives --kill-timeout', async (t) => {
    const dir = tempDir();
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    const corral = await startCorral(t, fixture('versioned-app.js'), { env: { VERSION_FILE: versionFile }, args: ['--kill-timeout', '1500'] });
    const quick = exchange(`${corral.url}/slow?ms=400`, { agent: false });
    const tooSlow = exchange(`${corral.url}/slow?ms=10000`, { agent: false, timeoutMs: 20_000 }).then(() => 'answered', (err: Error) => err.message);
    // Both requests are in the workers' hands (their load reports count the connections) before the stop.
    await waitFor(() => (JSON.parse(ctl(corral, 'status', '--json').stdout) as { workers: { connections: number }[] }).workers.reduce((n, w) => n + w.connections, 0) >= 2, 10_000, 'both requests to reach the workers');
    const exit = corral.stop();
    assert.equal((await quick).status, 200);
    assert.match(await tooSlow, /socket hang up|ECONNRESET/);
    assert.equal(await exit, 1);
    assert.match(corral.output(), /killed worker \d \(pid \d+\).*not drained within 1500 ms/);
  });

  test('the control socket is mode 0600; status --json shows the real pids; scale changes the workers and routing follows', async (t) => {
    const dir = tempDir();
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    const corral = await startCorral(t, fixture('versioned-app.js'), { env: { VERSION_FILE: versionFile } });
    const path = /control socket (\S+)/.exec(corral.output())![1]!;
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const status = ctl(corral, 'status', '--json');
    assert.equal(status.status, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { workers: { pid: number; state: string; slot: number }[]; primary: { pid: number } };
    assert.equal(parsed.primary.pid, corral.proc.pid);
    assert.deepEqual(new Set(parsed.workers.map((w) => w.pid)), await whoAnswers(corral));
    assert.ok(parsed.workers.every((w) => w.state === 'ready'));
    assert.match(ctl(corral, 'status').stdout, /slot\s+pid\s+state\s+uptime\s+restarts\s+conns\s+sessions\s+fwd\s+rss\s+cpu/);

    assert.equal(ctl(corral, 'scale', '3').status, 0);
    await corral.waitForOutput(/(?:ready: serving[^]*){3}/);
    await waitFor(async () => (await whoAnswers(corral, 30)).size === 3, 10_000, 'routing to reach 3 workers');
    assert.equal(ctl(corral, 'scale', '1').status, 0);
    await waitFor(async () => (await whoAnswers(corral, 10)).size === 1, 10_000, 'routing to shrink to 1 worker');
    const bad = ctl(corral, 'scale', 'lots');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /bad option --workers .*whole number from 1 to 1024, or "auto".*got "lots"/);
  });

  test('a missing control socket gets a message that says what to do', () => {
    const r = spawnSync(process.execPath, [CLI, 'status', '--control', join(tempDir(), 'none.sock')], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no corral is running here: there is no control socket at .*none\.sock.*corral start/);
  });

  test('with --wait-ready a worker takes no connection until the app calls ready()', async (t) => {
    const readyFile = join(tempDir(), 'warm');
    const corral = await startCorral(t, fixture('wait-ready-app.js'), { args: ['--wait-ready'], env: { READY_FILE: readyFile }, waitReady: 0 });
    let answered = false;
    const early = exchange(`${corral.url}/`, { agent: false, timeoutMs: 20_000 }).finally(() => (answered = true));
    // The apps are up and listening (their processes exist and stay 'starting') yet take nothing.
    await waitFor(() => {
      const rows = (JSON.parse(ctl(corral, 'status', '--json').stdout) as { workers: { pid: number | null; state: string; uptimeMs: number }[] }).workers;
      return rows.length === 2 && rows.every((w) => w.pid !== null && w.state === 'starting' && w.uptimeMs > 300);
    }, 10_000, 'both workers started, not ready');
    assert.equal(answered, false, 'a connection reached a worker that is not ready');
    assert.doesNotMatch(corral.output(), /ready: serving/);
    writeFileSync(readyFile, '');
    const answer = await early;
    assert.match(answer.body, /^warm \d+$/);
    await corral.waitForOutput(/(?:ready: serving[^]*){2}/);
  });

  test('a config file sets the options and CLI flags override it', async (t) => {
    const dir = tempDir();
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    writeFileSync(join(dir, 'corral.config.json'), JSON.stringify({ app: fixture('versioned-app.js'), workers: 3, sticky: 'none' }));
    const child = spawn(process.execPath, [CLI, 'start', '-p', '0', '-H', '127.0.0.1', '-s', 'ip'], { cwd: dir, env: { ...process.env, VERSION_FILE: versionFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    await waitFor(() => /(?:ready: serving[^]*){3}/.test(output), 20_000, '3 workers from the config file');
    assert.match(output, /config file .*corral\.config\.json/);
    assert.match(output, /3 workers, sticky=ip/);
    const bad = spawnSync(process.execPath, [CLI, 'start', '-c', join(dir, 'nope.json')], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--config: .*nope\.json does not exist/);
  });
});

describe('corral stop waits for the outcome', () => {
  /** `corral stop` as a user runs it, without blocking this process; its exit code, output, and when it returned. */
  async function stopCommand(corral: Running, ...extra: string[]): Promise<{ code: number; out: string; at: number }> {
    const path = /control socket (\S+)/.exec(corral.output())![1]!;
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, 'stop', '--control', path, ...extra], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), out: stdout + stderr, at: Date.now() });
      });
    });
  }

  test('it returns once every worker drained (after the request in flight), exit 0', async (t) => {
    const corral = await startCorral(t, fixture('slow-app.js'));
    const slow = exchange(`${corral.url}/?ms=1500`, { agent: false, timeoutMs: 10_000 }).then(() => Date.now());
    await new Promise((r) => setTimeout(r, 300));
    const stop = await stopCommand(corral);
    assert.equal(stop.code, 0, stop.out);
    assert.match(stop.out, /stopped: every worker drained/);
    assert.ok(stop.at >= (await slow), 'it returned after the in-flight request was answered');
  });

  test('a stop that has to kill a worker exits 1 and says so; --no-wait returns at once', async (t) => {
    const corral = await startCorral(t, fixture('slow-app.js'), { args: ['--kill-timeout', '500'] });
    const slow = exchange(`${corral.url}/?ms=5000`, { agent: false, timeoutMs: 10_000 }).then(() => 'answered', () => 'cut');
    await new Promise((r) => setTimeout(r, 300));
    const stop = await stopCommand(corral);
    assert.equal(stop.code, 1, stop.out);
    assert.match(stop.out, /not cleanly/);
    assert.equal(await slow, 'cut');

    const other = await startCorral(t, fixture('slow-app.js'));
    const held = exchange(`${other.url}/?ms=1500`, { agent: false, timeoutMs: 10_000 }).then(() => Date.now());
    await new Promise((r) => setTimeout(r, 300));
    const quick = await stopCommand(other, '--no-wait');
    assert.equal(quick.code, 0, quick.out);
    assert.match(quick.out, /stopping: workers are draining/);
    assert.ok(quick.at < (await held), 'it returned before the drain ended');
  });
});

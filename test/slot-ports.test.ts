import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { CLI, fixture, ROOT, startCorral, waitFor, type Running } from './helpers/corral';
import { exchange } from './helpers/engine';
import { freePortRun } from './helpers/ports';

interface Health {
  pid: number;
  slot: number;
}

function ctl(corral: Running, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const r = spawnSync(process.execPath, [CLI, ...args, '--control', path], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `corral reload`, without blocking this process (the load lanes must run meanwhile). */
async function reloadAsync(corral: Running): Promise<void> {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  await promisify(execFile)(process.execPath, [CLI, 'reload', '--control', path], { cwd: ROOT, timeout: 60_000 });
}

function workers(corral: Running): { slot: number; pid: number; state: string }[] {
  return (JSON.parse(ctl(corral, 'status', '--json').stdout) as { workers: { slot: number; pid: number; state: string }[] }).workers;
}

async function health(url: string, agent: Agent | false = false): Promise<Health> {
  const r = await exchange(`${url}/health`, { agent });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Health;
}

describe('slot ports (--slot-ports BASE)', () => {
  test('every connection on BASE+i reaches slot i, on fresh and keep-alive connections alike', async (t) => {
    const base = await freePortRun(2);
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--slot-ports', String(base)] });
    assert.match(corral.output(), new RegExp(`slot ports ${base}-${base + 1}`));
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());
    for (const slot of [0, 1]) {
      const url = `http://127.0.0.1:${base + slot}`;
      for (let i = 0; i < 20; i++) assert.equal((await health(url, i % 2 === 0 ? false : agent)).slot, slot);
    }
  });

  test('a slot port refuses nothing while its worker is killed and respawned: requests wait for the new worker of that slot', async (t) => {
    const base = await freePortRun(2);
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--slot-ports', String(base)] });
    const url = `http://127.0.0.1:${base + 1}`;
    const old = (await health(url)).pid;
    process.kill(old, 'SIGKILL');
    // Fresh connections while slot 1 has no worker: each must be served by slot 1's next worker.
    const answers = await Promise.all(Array.from({ length: 20 }, () => health(url)));
    for (const a of answers) {
      assert.equal(a.slot, 1);
      assert.notEqual(a.pid, old);
    }
    assert.equal(new Set(answers.map((a) => a.pid)).size, 1);
  });

  test('a rolling reload fails no request on the slot ports, and scale opens and closes them', async (t) => {
    const base = await freePortRun(3);
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--slot-ports', String(base)] });
    const before = workers(corral).map((w) => w.pid);
    let running = true;
    const failures: string[] = [];
    let served = 0;
    const lanes = [0, 1].map(async (slot) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; running && i < 5000; i++) {
          try {
            const h = await health(`http://127.0.0.1:${base + slot}`, i % 3 === 0 ? false : agent);
            if (h.slot !== slot) failures.push(`slot port ${base + slot} answered by slot ${h.slot}`);
            served++;
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      } finally {
        agent.destroy();
      }
    });
    await waitFor(() => served >= 20, 10_000, 'load to run');
    const servedBefore = served;
    await reloadAsync(corral);
    const servedDuring = served - servedBefore;
    running = false;
    await Promise.all(lanes);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(servedDuring > 20, `only ${servedDuring} requests ran during the reload`);
    const after = workers(corral).filter((w) => w.state === 'ready').map((w) => w.pid);
    assert.ok(after.every((pid) => !before.includes(pid)), 'every worker was replaced');

    assert.equal(ctl(corral, 'scale', '3').status, 0);
    await waitFor(async () => {
      try {
        return (await health(`http://127.0.0.1:${base + 2}`)).slot === 2;
      } catch {
        return false;
      }
    }, 15_000, 'slot 2 to answer on its slot port');
    assert.equal(ctl(corral, 'scale', '2').status, 0);
    await waitFor(async () => {
      try {
        await health(`http://127.0.0.1:${base + 2}`);
        return false;
      } catch (err) {
        return /ECONNREFUSED/.test((err as Error).message);
      }
    }, 15_000, 'slot 2\'s port to close after scaling down');
  });

  test('slot ports that overlap the public port, or run past 65535, are refused up front', () => {
    for (const [args, pattern] of [
      [['-p', '4000', '-w', '2', '--slot-ports', '3999'], /--slot-ports.*does not hold the public port 4000/],
      [['-p', '4000', '-w', '4', '--slot-ports', '65534'], /--slot-ports.*leaves room for 4 slot ports/],
      [['-p', '4000', '--slot-ports', 'abc'], /--slot-ports.*TCP port/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'start', fixture('echo-io.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
    }
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { parseSid } from '../src/protocol/sid';
import { CLI, fixture, ROOT, startCorral, waitFor, type Running } from './helpers/corral';
import { exchange, PollingSession } from './helpers/engine';
import { freePortRun } from './helpers/ports';

describe('worker faults', () => {
  test('kill -9 of one of two workers during bursts of 500 new connections: no 503 while the other is ready', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const CONCURRENCY = 100;
    for (let round = 0; round < 6; round++) {
      const pids = new Set<number>();
      await waitFor(async () => {
        for (let i = 0; i < 10; i++) pids.add((JSON.parse((await exchange(`${corral.url}/health`, { agent: false })).body) as { pid: number }).pid);
        return pids.size === 2;
      }, 15_000, 'two live workers');
      const victim = [...pids][round % 2]!;
      let next = 0;
      let done = 0;
      let killed = false;
      const statuses = new Map<number, number>();
      const errors: string[] = [];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < 500) {
            next++;
            try {
              const r = await exchange(`${corral.url}/health`, { agent: false, timeoutMs: 10_000 });
              statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            } catch (err) {
              errors.push((err as Error).message);
            }
            if (++done === 100 && !killed) {
              killed = true;
              process.kill(victim, 'SIGKILL');
            }
          }
        }),
      );
      assert.ok(killed);
      assert.equal(statuses.get(503) ?? 0, 0, `round ${round}: ${statuses.get(503)} clients got 503 while a worker was ready`);
      // Only requests the dead worker had already taken may fail, at most one per client lane.
      assert.ok(errors.length <= CONCURRENCY, `round ${round}: ${errors.length} failed: ${errors.slice(0, 3).join('; ')}`);
      assert.ok((statuses.get(200) ?? 0) >= 500 - CONCURRENCY);
    }
  });
});

interface WorkerRow {
  slot: number;
  pid: number;
  state: string;
}

function workers(corral: Running): WorkerRow[] {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--control', path], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { workers: WorkerRow[] }).workers;
}

/** Polling sessions until one lives on each slot (bounded). */
async function sessionOn(url: string, slot: number): Promise<PollingSession> {
  for (let i = 0; i < 30; i++) {
    const s = await PollingSession.open(url, false);
    if (parseSid(s.sid)?.slot === slot) return s;
  }
  throw new Error(`no session landed on slot ${slot} in 30 tries`);
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe('a worker that stops answering (SIGSTOP, a blocked event loop)', () => {
  test('is marked unresponsive and gets no connection; its sessions get 503 + Retry-After at once; SIGCONT brings it and its session back', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const session = await sessionOn(corral.url, 1);
    const victim = workers(corral).find((w) => w.slot === 1)!.pid;
    const other = workers(corral).find((w) => w.slot === 0)!.pid;
    process.kill(victim, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(victim, 'SIGCONT');
      } catch {
        // gone already
      }
    });
    // Sent at once: some are handed to the stopped worker before anyone knows; their deadline sends them on.
    const answers = await Promise.all(Array.from({ length: 40 }, () => exchange(`${corral.url}/health`, { agent: false, timeoutMs: 15_000 })));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal((JSON.parse(a.body) as { pid: number }).pid, other);
    }
    await waitFor(() => workers(corral).some((w) => w.pid === victim && w.state === 'unresponsive'), 10_000, 'status to say unresponsive');
    assert.match(corral.output(), new RegExp(`worker 1 \\(pid ${victim}\\) is unresponsive`));
    const fdsBefore = openFds(corral.proc.pid!);
    const stalled = await Promise.all(Array.from({ length: 200 }, () => exchange(session.url, { agent: false, timeoutMs: 5000 })));
    for (const r of stalled) {
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '2');
    }
    // Answered and closed, not parked: the primary's descriptors come back down while the worker is still stopped.
    await waitFor(() => openFds(corral.proc.pid!) < fdsBefore + 10, 3000, `the primary to close what it answered (${fdsBefore} fds before)`);
    process.kill(victim, 'SIGCONT');
    await waitFor(() => workers(corral).some((w) => w.pid === victim && w.state === 'ready'), 10_000, 'the worker to be ready again');
    const back = await exchange(session.url, { agent: false, timeoutMs: 15_000 });
    assert.equal(back.status, 200, `its session after SIGCONT: ${back.body}`);
  });

  test('a blocked event loop is unresponsive too, and ready again once it unblocks', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--slot-ports', String(await freePortRun(2))] });
    const base = Number(/slot ports (\d+)-/.exec(corral.output())![1]);
    const blocked = exchange(`http://127.0.0.1:${base + 1}/block?ms=5000`, { agent: false, timeoutMs: 15_000 });
    const pid = workers(corral).find((w) => w.slot === 1)!.pid;
    await waitFor(() => workers(corral).some((w) => w.pid === pid && w.state === 'unresponsive'), 10_000, 'the blocked worker to be unresponsive');
    assert.equal((await blocked).body, 'unblocked');
    await waitFor(() => workers(corral).some((w) => w.pid === pid && w.state === 'ready'), 10_000, 'the worker to be ready again');
  });

  test('one unresponsive past --unresponsive-timeout is killed and its slot gets a new worker', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { args: ['--unresponsive-timeout', '1000'] });
    const victim = workers(corral).find((w) => w.slot === 1)!.pid;
    process.kill(victim, 'SIGSTOP');
    await waitFor(() => workers(corral).some((w) => w.slot === 1 && w.pid !== victim && w.state === 'ready'), 20_000, 'a new worker in slot 1');
    assert.match(corral.output(), /has been unresponsive for 1000 ms \(--unresponsive-timeout\): killing it/);
  });
});

describe('a worker at its maxConnections', () => {
  test('refuses a handoff before answering it, so the primary routes it elsewhere or answers 503, never a reset', async (t) => {
    const corral = await startCorral(t, fixture('max-conns.js'), { args: ['--head-timeout', '500'] });
    const holds: Socket[] = [];
    t.after(() => holds.forEach((s) => s.destroy()));
    const pids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const s = connect(corral.port, '127.0.0.1');
      holds.push(s);
      let text = '';
      s.on('data', (c: Buffer) => (text += c.toString()));
      s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => /held by (\d+)/.test(text), 5000, 'a held request');
      pids.add(/held by (\d+)/.exec(text)![1]!);
    }
    assert.equal(pids.size, 2, 'one held connection per worker');
    // Both workers are at their limit: the next connection is refused by each, waits, and gets corral's 503.
    const r = await exchange(`${corral.url}/`, { agent: false, timeoutMs: 10_000 });
    assert.equal(r.status, 503);
    assert.match(r.body, /no worker is ready/);
    holds[0]!.destroy();
    await waitFor(async () => (await exchange(`${corral.url}/`, { agent: false, timeoutMs: 10_000 })).status === 200, 10_000, 'a free worker to serve again');
  });
});

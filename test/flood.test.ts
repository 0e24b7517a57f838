import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { fixture, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

/** Open `count` connections from `localAddress` that send nothing; resolves once all are connected (or failed). */
async function silentSockets(port: number, localAddress: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, () =>
        new Promise<void>((resolve) => {
          const s = connect({ port, host: '127.0.0.1', localAddress });
          sockets.push(s);
          s.on('error', () => undefined);
          s.once('connect', () => resolve());
          s.once('close', () => resolve());
        }),
      ),
    );
  }
  return sockets;
}

function softLimit(pid: number): number {
  return Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]);
}

describe('floods and the open-files limit', () => {
  test('under ulimit -n 1024, one client holding 1100 silent connections does not lock anyone else out', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { nofile: [1024, 1024], args: ['--head-timeout', '30000'] });
    const attacker = await silentSockets(corral.port, '127.0.0.2', 1100);
    t.after(() => attacker.forEach((s) => s.destroy()));
    const served = await Promise.all(Array.from({ length: 50 }, () => exchange(`${corral.url}/health`, { agent: false, timeoutMs: 10_000 })));
    for (const r of served) assert.equal(r.status, 200);
    await waitFor(() => /one client address holds too many connections that send nothing/.test(corral.output()), 5000, 'the primary to say the limit bit');
    // The attacker keeps at most its share; the rest of its sockets were closed at once.
    const open = attacker.filter((s) => !s.destroyed && s.readyState === 'open').length;
    // 256 counted per address, plus up to 64 that came before counting starts.
    assert.ok(open <= 320, `${open} of the attacker's connections are still held`);
  });

  test('many addresses holding silent connections past the pending limit: the oldest are closed, prompt clients served', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { nofile: [1024, 1024], args: ['--head-timeout', '30000'] });
    const attackers: Socket[] = [];
    t.after(() => attackers.forEach((s) => s.destroy()));
    for (let a = 2; a <= 6; a++) attackers.push(...(await silentSockets(corral.port, `127.0.0.${a}`, 200)));
    const served = await Promise.all(Array.from({ length: 50 }, () => exchange(`${corral.url}/health`, { agent: false, timeoutMs: 10_000 })));
    for (const r of served) assert.equal(r.status, 200);
    assert.match(corral.output(), /too many connections are waiting to send their request line/);
  });

  test('a low open-files limit is named at start, with what to do', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { nofile: [1024, 1024] });
    assert.match(corral.output(), /the open files limit is 1024 \(hard 1024\).*Raise it \(ulimit -Hn and -Sn, LimitNOFILE=/);
    assert.equal(softLimit(corral.proc.pid!), 1024);
  });

  test('Node itself raises the soft limit to the hard one, for the primary and its workers (nothing to warn about)', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { nofile: [1024, 8192] });
    assert.doesNotMatch(corral.output(), /the open files limit is/);
    assert.equal(softLimit(corral.proc.pid!), 8192);
    const pid = (JSON.parse((await exchange(`${corral.url}/health`, { agent: false })).body) as { pid: number }).pid;
    assert.equal(softLimit(pid), 8192);
  });
});

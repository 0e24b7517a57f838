import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import { fixture, startCorral } from './helpers/corral';

/** Connect `count` clients from `localAddress` (all at once, bounded wait); each reports its worker pid. */
async function connectFrom(url: string, localAddress: string, count: number, transports: string[]): Promise<{ sockets: Socket[]; pids: number[] }> {
  const agent = new Agent({ keepAlive: true, localAddress });
  const sockets = Array.from({ length: count }, () => connect(url, { forceNew: true, reconnection: false, transports, agent: agent as never }));
  const pids = await Promise.all(sockets.map(async (s, i) => ((await s.timeout(15_000).emitWithAck('echo', i)) as { pid: number }).pid));
  return { sockets, pids };
}

describe('balance and stickiness by client address', () => {
  test('in sid mode, 200 clients from one address are spread evenly over both workers', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const { sockets, pids } = await connectFrom(corral.url, '127.0.0.1', 200, ['websocket']);
    try {
      const counts = new Map<number, number>();
      for (const p of pids) counts.set(p, (counts.get(p) ?? 0) + 1);
      const [a = 0, b = 0] = [...counts.values()];
      assert.equal(counts.size, 2, `all clients on one worker: ${[...counts.values()]}`);
      assert.ok(Math.max(a, b) / Math.min(a, b) <= 1.2, `unbalanced: ${a}/${b}`);
    } finally {
      for (const s of sockets) s.disconnect();
    }
  });

  test('in ip mode, the clients of each address 127.0.0.2..9 stick to one worker, and the addresses use both', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { sticky: 'ip' });
    const all: Socket[] = [];
    try {
      const workerOf = new Map<string, Set<number>>();
      for (let i = 2; i <= 9; i++) {
        const address = `127.0.0.${i}`;
        // Mixed transports: polling requests of one client arrive on several connections.
        const polling = await connectFrom(corral.url, address, 3, ['polling']);
        const ws = await connectFrom(corral.url, address, 3, ['websocket']);
        all.push(...polling.sockets, ...ws.sockets);
        workerOf.set(address, new Set([...polling.pids, ...ws.pids]));
      }
      for (const [address, pids] of workerOf) assert.equal(pids.size, 1, `${address} reached ${pids.size} workers`);
      const used = new Set([...workerOf.values()].flatMap((s) => [...s]));
      assert.equal(used.size, 2, 'eight addresses should use both workers');
    } finally {
      for (const s of all) s.disconnect();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import { runSessions, type LoadResult } from './helpers/clients';
import { fixture, startCorral, waitFor, type Running } from './helpers/corral';

function assertAllStuck(r: LoadResult, count: number, roundTrips: number): void {
  assert.deepEqual(r.errors.slice(0, 5), [], `${r.failed} sessions failed`);
  assert.equal(r.sessionUnknown, 0);
  assert.equal(r.connected, count);
  assert.equal(r.acks, count * roundTrips);
  assert.equal(r.switched, 0, 'a session was answered by two workers');
  assert.equal(r.perPid.size, 2, `sessions not spread over both workers: ${[...r.perPid.values()]}`);
}

describe('sessions through corral with 2 workers (sid routing)', () => {
  let corral: Running;
  before(async () => {
    corral = await startCorral('suite', fixture('echo-io.js'));
  });
  after(() => corral?.stop());

  test('300 long-polling clients each do 20 acked round trips, none loses its session', async () => {
    const r = await runSessions(corral.url, 300, 20, { transports: ['polling'] }, 60);
    assertAllStuck(r, 300, 20);
  });

  test('300 clients with default transports (polling, then upgrade) keep their sessions', async () => {
    const r = await runSessions(corral.url, 300, 20, {}, 60);
    assertAllStuck(r, 300, 20);
  });

  test('300 WebSocket-only clients keep their sessions', async () => {
    const r = await runSessions(corral.url, 300, 20, { transports: ['websocket'] }, 60);
    assertAllStuck(r, 300, 20);
  });

  test('a broadcast from one worker reaches every client on both workers', async () => {
    const clients: Socket[] = [];
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 60; i++) {
        const transports = i % 3 === 0 ? ['polling'] : i % 3 === 1 ? ['websocket'] : ['polling', 'websocket'];
        const socket = connect(corral.url, { forceNew: true, reconnection: false, transports });
        clients.push(socket);
        const reply = (await socket.timeout(10_000).emitWithAck('echo', i)) as { pid: number };
        pids.add(reply.pid);
      }
      assert.equal(pids.size, 2, 'clients should live on both workers');
      const received = new Map<Socket, number>();
      for (const c of clients) c.on('news', (m: { data: string }) => m.data === 'hello all' && received.set(c, (received.get(c) ?? 0) + 1));
      await clients[0]!.timeout(10_000).emitWithAck('shout', 'hello all');
      await waitFor(() => received.size === clients.length, 10_000, 'every client to get the broadcast');
      assert.ok([...received.values()].every((n) => n === 1), 'each client got it exactly once');
    } finally {
      for (const c of clients) c.disconnect();
    }
  });
});

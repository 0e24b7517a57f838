import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { parseSid } from '../src/protocol/sid';
import { exchange, PollingSession } from './helpers/engine';
import { fixture, startCorral, type Running } from './helpers/corral';

/** Open fresh-connection sessions until one lives on each of slots 0 and 1 (bounded). */
async function sessionsOnBothSlots(url: string): Promise<[PollingSession, PollingSession]> {
  const bySlot = new Map<number, PollingSession>();
  for (let i = 0; i < 20 && bySlot.size < 2; i++) {
    const s = await PollingSession.open(url, false);
    bySlot.set(parseSid(s.sid)?.slot ?? -1, s);
  }
  assert.ok(bySlot.has(0) && bySlot.has(1), 'could not get sessions on both workers');
  return [bySlot.get(0)!, bySlot.get(1)!];
}

/** `431[{"data":7,"pid":123}]` -> the ack payload. */
function ackOf(packets: string[], id: number): { data: number; pid: number } {
  const prefix = `43${id}`;
  const packet = packets.find((p) => p.startsWith(prefix));
  assert.ok(packet, `no ack ${id} in ${packets.join(' | ')}`);
  return (JSON.parse(packet.slice(prefix.length)) as [{ data: number; pid: number }])[0];
}

describe('one keep-alive connection carrying sessions of two workers', () => {
  let corral: Running;
  before(async () => {
    corral = await startCorral('suite', fixture('echo-io.js'));
  });
  after(() => corral?.stop());

  test('interleaved polling requests of two sessions are all answered by their own workers, on one open connection', async () => {
    const [a, b] = await sessionsOnBothSlots(corral.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<Socket>();
      const pids = new Map<PollingSession, Set<number>>([
        [a, new Set()],
        [b, new Set()],
      ]);
      for (let i = 1; i <= 20; i++) {
        for (const s of [a, b]) {
          const sent = await s.send(`42${i}["echo",${i}]`, agent);
          sockets.add(sent.socket);
          assert.notEqual(sent.headers.connection, 'close');
        }
        for (const s of [a, b]) {
          const got = await s.receive(agent);
          const ack = ackOf(got, i);
          assert.equal(ack.data, i);
          pids.get(s)!.add(ack.pid);
        }
      }
      assert.equal(sockets.size, 1, 'every request should ride the same connection');
      assert.equal(pids.get(a)!.size, 1);
      assert.equal(pids.get(b)!.size, 1);
      assert.notDeepEqual([...pids.get(a)!], [...pids.get(b)!], 'the two sessions live on different workers');
    } finally {
      agent.destroy();
    }
  });

  test('a WebSocket upgrade sent on a connection owned by the other worker reaches the session', async () => {
    const [a, b] = await sessionsOnBothSlots(corral.url);
    // A keep-alive connection that the primary gave to some worker: find out which.
    const raw = tcpConnect(corral.port, '127.0.0.1');
    const health = await new Promise<{ slot: number; pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no /health answer in time')), 10_000);
      let text = '';
      raw.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(text);
        if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) {
          raw.removeAllListeners('data');
          clearTimeout(timer);
          resolve(JSON.parse(text.slice(end + 4)) as { slot: number; pid: number });
        }
      });
      raw.on('error', reject);
      raw.write('GET /health HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n');
    });
    // Upgrade, on that same connection, the session that lives on the other worker.
    const other = health.slot === 0 ? b : a;
    const ws = new WebSocket(`ws://127.0.0.1:${corral.port}/socket.io/?EIO=4&transport=websocket&sid=${other.sid}`, {
      createConnection: () => raw,
    });
    try {
      const messages: string[] = [];
      const next = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no frame; got ${messages.join(' | ')}`)), 10_000);
          ws.once('message', (m: Buffer) => {
            clearTimeout(timer);
            messages.push(m.toString());
            resolve(m.toString());
          });
        });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      });
      const probe = next();
      ws.send('2probe');
      assert.equal(await probe, '3probe');
      ws.send('5');
      const ack = next();
      ws.send('4277["echo",77]');
      const [reply] = JSON.parse((await ack).slice(4)) as [{ data: number; pid: number }];
      assert.equal(reply.data, 77);
      assert.notEqual(reply.pid, health.pid, 'the session lives on the other worker');
    } finally {
      ws.terminate();
      raw.destroy();
    }
  });
});

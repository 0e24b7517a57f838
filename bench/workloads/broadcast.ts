/**
 * Broadcast: `count` WebSocket clients; the first one asks the server to `io.emit` numbered
 * messages, keeping at most WINDOW messages not yet delivered to every client. A message
 * some client has not received after `deadlineMs` counts as lost for that client.
 */
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, pool, waitFor, type Mark } from './common';
import { closeAll, open, type Client } from './sio';

const WINDOW = 8;

export async function broadcast(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const clients: Client[] = [];
  let connectFailed = 0;
  await pool(p.count, p.concurrency, async (i) => {
    const o = await open(p.url, addressFor(p.addresses, i), 'websocket', p.deadlineMs);
    if (o.kind === 'ok') {
      clients.push(o.client);
      r.pids[String(o.client.pid)] = (r.pids[String(o.client.pid)] ?? 0) + 1;
    }
    else {
      connectFailed++;
      countReason(r, o.kind === 'hung' ? 'connect hung' : `connect: ${o.reason}`);
    }
  });
  r.extra.connected = clients.length;
  const emitter = clients[0];
  if (!emitter) {
    await mark('start');
    await mark('end');
    r.failed = p.count;
    return r;
  }

  const pending = new Map<number, { t: number; remaining: number }>();
  const latency = new Samples();
  let delivered = 0;
  let lost = 0;
  let seq = 0;
  let sending = true;
  const receivers = clients.length;
  const send = (): void => {
    while (sending && pending.size < WINDOW) {
      const s = seq++;
      pending.set(s, { t: performance.now(), remaining: receivers });
      emitter.socket.emit('burst', s);
    }
  };
  for (const c of clients) {
    c.socket.on('b', (s: number) => {
      const m = pending.get(s);
      if (!m) return; // already given up on
      delivered++;
      if (latency.size < 2_000_000) latency.add(performance.now() - m.t);
      if (--m.remaining === 0) {
        pending.delete(s);
        send();
      }
    });
  }
  const expire = (): void => {
    const old = performance.now() - p.deadlineMs;
    for (const [s, m] of pending) {
      if (m.t > old) break; // insertion order is send order
      lost += m.remaining;
      pending.delete(s);
    }
    send();
  };
  const sweeper = setInterval(expire, 100);

  await mark('start');
  const start = performance.now();
  send();
  await waitFor(() => performance.now() >= start + p.durationMs, p.durationMs + 1000, 10);
  sending = false;
  await waitFor(() => pending.size === 0, p.deadlineMs + 500);
  const wall = (performance.now() - start) / 1000;
  await mark('end');
  clearInterval(sweeper);
  for (const m of pending.values()) lost += m.remaining;

  r.attempted = seq * receivers + connectFailed;
  r.ok = delivered;
  // Clients that never connected are counted as failed receivers, one each.
  r.failed = lost + connectFailed;
  r.extra.connectFailed = connectFailed;
  if (lost > 0) r.reasons['not delivered'] = lost;
  r.rate = delivered / wall;
  r.extra.messages = seq;
  r.extra.receivers = receivers;
  Object.assign(r, latency.summary());
  await closeAll(clients);
  return r;
}

/**
 * Echo: `count` connected clients each doing acked round trips back to back for
 * `durationMs`. Rate counts round trips completed inside the window.
 */
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, pool, waitFor, type Mark } from './common';
import { closeAll, open, type Client } from './sio';

const PAYLOAD = 'x'.repeat(32);

export async function echo(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const clients: Client[] = [];
  let connectFailed = 0;
  await pool(p.count, p.concurrency, async (i) => {
    const o = await open(p.url, addressFor(p.addresses, i), p.transports, p.deadlineMs);
    if (o.kind === 'ok') {
      clients.push(o.client);
      r.pids[String(o.client.pid)] = (r.pids[String(o.client.pid)] ?? 0) + 1;
    }
    else {
      // A client that cannot even connect is a failure of this workload too.
      connectFailed++;
      if (o.kind === 'hung') r.hung++;
      else r.failed++;
      countReason(r, o.kind === 'hung' ? 'connect hung' : `connect: ${o.reason}`);
    }
  });
  r.extra.connected = clients.length;
  r.extra.connectFailed = connectFailed;

  const rtt = new Samples();
  let inflight = 0;
  const dead = new Set<Client>();
  await mark('start');
  const start = performance.now();
  const end = start + p.durationMs;
  const fail = (c: Client, reason: string): void => {
    if (dead.has(c)) return;
    dead.add(c);
    r.failed++;
    countReason(r, reason);
  };
  const loop = (c: Client): void => {
    if (dead.has(c) || performance.now() >= end) return;
    const t = performance.now();
    inflight++;
    c.socket.timeout(p.deadlineMs).emit('echo', PAYLOAD, (err: Error | null, data: unknown) => {
      inflight--;
      const now = performance.now();
      if (err || data !== PAYLOAD) return fail(c, c.dropped ? `dropped: ${c.dropped}` : err ? 'ack timeout' : 'bad echo');
      if (now <= end) {
        r.ok++;
        rtt.add(now - t);
      }
      loop(c);
    });
  };
  for (const c of clients) loop(c);
  await waitFor(() => performance.now() >= end, p.durationMs + 1000, 10);
  await mark('end');
  // Round trips still in flight get their own deadline to come back or count as failures.
  await waitFor(() => inflight === 0, p.deadlineMs + 500);
  r.hung += inflight;
  if (inflight > 0) countReason(r, 'no ack by the deadline');
  r.attempted = r.ok + r.failed + r.hung;
  r.rate = r.ok / (p.durationMs / 1000);
  Object.assign(r, rtt.summary());
  await closeAll(clients);
  return r;
}

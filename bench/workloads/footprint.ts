/**
 * Primary footprint: many short Engine.IO sessions over fresh connections (raw sockets,
 * so the client stays cheap): a polling handshake, then a POST of the close packet with the
 * sid. Two connections per session, each a hand-off for a primary that routes.
 */
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, pool, sleep, type Mark } from './common';
import { get, oneShot, post } from './raw-http';

const EIO_PATH = '/socket.io/?EIO=4&transport=polling';

async function session(p: WorkloadParams, i: number): Promise<string | null> {
  const addr = addressFor(p.addresses, i);
  const open = await oneShot(p.host, p.port, addr, get(EIO_PATH, p.host, p.port), p.deadlineMs);
  const sid = /"sid":"([^"]+)"/.exec(open.body)?.[1];
  if (open.status !== 200 || !sid) return `handshake HTTP ${open.status}`;
  const closePath = `${EIO_PATH}&sid=${encodeURIComponent(sid)}`;
  const closed = await oneShot(p.host, p.port, addr, post(closePath, p.host, p.port, '1'), p.deadlineMs);
  if (closed.status !== 200) return closed.body.includes('"code":1') ? 'close: Session ID unknown' : `close HTTP ${closed.status}`;
  return null;
}

export async function footprint(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const lat = new Samples();
  const run = async (n: number, measure: boolean): Promise<void> =>
    pool(n, p.concurrency, async (i) => {
      const t = performance.now();
      let why: string | null;
      try {
        why = await session(p, i);
      } catch (e) {
        why = (e as Error).message;
      }
      if (!measure) return;
      r.attempted++;
      if (why === null) {
        r.ok++;
        lat.add(performance.now() - t);
      } else {
        if (why === 'timeout') r.hung++;
        else r.failed++;
        countReason(r, why);
      }
    });
  // The warm-up lets the primary's heap reach its working size: RSS grows at first even with
  // no state kept (Node's own cluster primary does too), then stays flat unless something leaks.
  await run(p.warmup, false);
  await sleep(200);
  await mark('start');
  const t0 = performance.now();
  const first = Math.floor(p.count / 2);
  await run(first, true);
  await mark('half');
  await run(p.count - first, true);
  const wall = (performance.now() - t0) / 1000;
  // Let the primary settle (closed sockets, timers) before reading its RSS again.
  await sleep(Math.min(500, 100 + p.count / 10));
  await mark('end');
  r.connections = r.attempted * 2;
  r.rate = r.ok / wall;
  Object.assign(r, lat.summary());
  return r;
}

/**
 * Plain HTTP on GET /: keep-alive with autocannon (50 connections, which cannot pick a
 * source address: an IP-hash router puts them all on one worker), and new connections with
 * a raw socket client (one request per connection, source addresses spread).
 */
import autocannon from 'autocannon';
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, timedPool, type Mark } from './common';
import { get, oneShot } from './raw-http';

export async function httpKeepAlive(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  // An unmeasured second first (the first second of fresh workers is JIT warm-up), unless
  // the run is short anyway. autocannon runs whole seconds.
  const secs = Math.max(1, Math.round(p.durationMs / 1000));
  if (secs >= 3) await autocannon({ url: `${p.url}/`, connections: p.concurrency, duration: 1, timeout: p.deadlineMs / 1000 });
  await mark('start');
  const res = await autocannon({ url: `${p.url}/`, connections: p.concurrency, duration: secs, timeout: p.deadlineMs / 1000 });
  await mark('end');
  r.ok = res['2xx'];
  r.failed = res.errors + res.non2xx;
  r.hung = res.timeouts;
  r.attempted = r.ok + r.failed + r.hung;
  if (res.errors > 0) r.reasons.errors = res.errors;
  if (res.non2xx > 0) r.reasons['non-2xx'] = res.non2xx;
  r.rate = r.ok / res.duration;
  r.p50 = res.latency.p50;
  r.p99 = res.latency.p99;
  return r;
}

export async function httpNewConnections(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const lat = new Samples();
  await mark('start');
  const t0 = performance.now();
  const request = get('/', p.host, p.port);
  await timedPool(p.concurrency, t0 + p.durationMs, 10_000_000, async (i) => {
    r.attempted++;
    const t = performance.now();
    try {
      const res = await oneShot(p.host, p.port, addressFor(p.addresses, i), request, p.deadlineMs);
      if (res.status === 200 && res.body === 'hello') {
        r.ok++;
        lat.add(performance.now() - t);
      } else {
        r.failed++;
        countReason(r, `HTTP ${res.status}`);
      }
    } catch (e) {
      const why = (e as Error).message;
      if (why === 'timeout') r.hung++;
      else r.failed++;
      countReason(r, why);
    }
  });
  const wall = (performance.now() - t0) / 1000;
  await mark('end');
  r.connections = r.attempted;
  r.rate = r.ok / wall;
  Object.assign(r, lat.summary());
  return r;
}

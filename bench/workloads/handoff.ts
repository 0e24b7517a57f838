/**
 * Handoff latency: from the moment a client starts its TCP connect to the worker's http
 * server `connection` event, at a fixed offered rate of new connections (one `GET /conn-ns`
 * each, sent as soon as the connect completes, clients over 127.0.0.2-33). bench/app.js
 * notes process.hrtime.bigint() in `connection` and answers with it; on Linux that clock is
 * CLOCK_MONOTONIC, the same in every process, so worker time minus client time is the time
 * the connection spent in the loopback handshake, the kernel's accept queue, the primary
 * (accept, for a reading router: wait for the request bytes, which the client sends the moment
 * its connect completes; send the handle) and the worker's event loop: fair to every
 * contender, none of their code touched.
 *
 * Why the connect's start and not its completion: the client's connect callback runs when its
 * own event loop gets to it, often after a router that does not read (sticky-session) or the
 * single process already emitted `connection` (negative medians in a first trial). The start
 * is taken before net.connect(), the same for every contender; a single process is the floor.
 *
 * Open loop: connections start on a schedule (`rate` per second), not when the last one ended,
 * so a slow handoff cannot slow the arrivals down. At most `concurrency` in flight: past that
 * a scheduled connection is skipped and counted (`shed`): the contender could not keep up.
 */
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, sleep, waitFor, type Mark } from './common';
import { get, oneShot } from './raw-http';

const TICK_MS = 2;

export async function handoffLatency(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const handoff = new Samples();
  const afterSend = new Samples();
  const total = new Samples();
  const request = get('/conn-ns', p.host, p.port);
  let inflight = 0;
  let shed = 0;
  let negative = 0;
  let started = 0;
  const one = async (i: number, measure: boolean): Promise<void> => {
    inflight++;
    if (measure) r.attempted++;
    const t = performance.now();
    try {
      const res = await oneShot(p.host, p.port, addressFor(p.addresses, i), request, p.deadlineMs, true);
      if (!measure) return;
      const workerNs = /^\d+$/.test(res.body) ? BigInt(res.body) : 0n;
      if (res.status !== 200 || workerNs === 0n || res.connectNs === null) {
        r.failed++;
        countReason(r, `HTTP ${res.status}${res.status === 200 ? ' without a connection time' : ''}`);
        return;
      }
      r.ok++;
      total.add(performance.now() - t);
      // Should not be negative (the connect starts before anyone can accept it): counted, kept.
      const us = Number(workerNs - res.connectNs) / 1e3;
      if (us < 0) negative++;
      handoff.add(us);
      if (res.writeNs !== null) afterSend.add(Math.max(0, Number(workerNs - res.writeNs) / 1e3));
    } catch (e) {
      if (!measure) return;
      const why = (e as Error).message;
      if (why === 'timeout') r.hung++;
      else r.failed++;
      countReason(r, why);
    } finally {
      inflight--;
    }
  };
  // A short unmeasured warm-up at the same rate (JIT, the workers' first connections).
  const schedule = async (ms: number, measure: boolean): Promise<void> => {
    const t0 = performance.now();
    let due = 0;
    while (performance.now() - t0 < ms) {
      const target = Math.floor(((performance.now() - t0) / 1000) * p.rate);
      for (; due < target; due++) {
        if (inflight >= p.concurrency) {
          if (measure) shed++;
          continue;
        }
        void one(started++, measure);
      }
      await sleep(TICK_MS);
    }
  };
  await schedule(Math.min(1000, p.durationMs / 2), false);
  await sleep(100);
  await mark('start');
  const t0 = performance.now();
  await schedule(p.durationMs, true);
  const wall = (performance.now() - t0) / 1000;
  await mark('end');
  await waitFor(() => inflight === 0, p.deadlineMs + 500);
  r.hung += inflight;
  if (inflight > 0) countReason(r, 'no answer by the deadline');
  r.connections = r.attempted;
  r.rate = r.ok / wall;
  Object.assign(r, total.summary());
  // In microseconds (Samples rounds to 0.01 of its unit).
  r.handoffUs = { ...handoff.summary(), n: handoff.size };
  r.afterSendUs = { ...afterSend.summary(), n: afterSend.size };
  r.extra.offered = p.rate;
  r.extra.shed = shed;
  r.extra.negative = negative;
  if (shed > 0) r.reasons[`shed: over ${p.concurrency} in flight`] = shed;
  return r;
}

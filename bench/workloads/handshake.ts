/**
 * Handshakes (and balance): `count` socket.io-client sessions, at most `concurrency` opening
 * at once. Each one connects, asks for its worker's pid (acked), and for default transports
 * waits briefly for the WebSocket upgrade and asks again over it. Without `hold`, each
 * leaves as soon as it is done; with `hold`, all stay until the last one is in (balance).
 */
import { Samples } from '../stats';
import type { WorkloadParams, WorkloadResult } from '../types';
import { addressFor, countReason, emptyResult, pool, waitFor, type Mark } from './common';
import { close, closeAll, open, type Client } from './sio';

export async function handshake(p: WorkloadParams, mark: Mark): Promise<WorkloadResult> {
  const r = emptyResult();
  const connectMs = new Samples();
  const held: Client[] = [];
  const closing: Promise<void>[] = [];
  let upgraded = 0;
  let upgradeErrors = 0;
  await mark('start');
  const t0 = performance.now();
  await pool(p.count, p.concurrency, async (i) => {
    r.attempted++;
    const started = performance.now();
    const o = await open(p.url, addressFor(p.addresses, i), p.transports, p.deadlineMs);
    if (o.kind === 'hung') {
      r.hung++;
      return;
    }
    if (o.kind === 'failed') {
      r.failed++;
      countReason(r, o.reason);
      return;
    }
    const c = o.client;
    if (p.transports === 'default' && !p.hold) {
      // Bounded wait for the upgrade probe; a failed upgrade leaves the session on polling.
      const left = Math.min(1500, p.deadlineMs - (performance.now() - started));
      await waitFor(() => c.upgrade !== 'none' || c.dropped !== null, Math.max(0, left));
      if (c.upgrade === 'done') {
        upgraded++;
        const again = await c.socket.timeout(Math.max(1, p.deadlineMs - (performance.now() - started))).emitWithAck('pid').catch(() => null);
        if (again !== c.pid) {
          r.failed++;
          countReason(r, c.dropped ? `dropped after upgrade: ${c.dropped}` : 'no answer after upgrade');
          closing.push(close(c));
          return;
        }
      } else if (c.upgrade === 'error') upgradeErrors++;
    }
    if (c.dropped !== null) {
      r.failed++;
      countReason(r, `dropped after connect: ${c.dropped}`);
      closing.push(close(c));
      return;
    }
    r.ok++;
    connectMs.add(c.connectMs);
    const key = String(c.pid);
    r.pids[key] = (r.pids[key] ?? 0) + 1;
    if (p.hold) held.push(c);
    else closing.push(close(c));
  });
  const wall = (performance.now() - t0) / 1000;
  // Sessions held for the balance count must still be up at the end.
  for (const c of held) {
    if (c.dropped === null) continue;
    r.ok--;
    r.failed++;
    r.pids[String(c.pid)] = (r.pids[String(c.pid)] ?? 1) - 1;
    countReason(r, `dropped while held: ${c.dropped}`);
  }
  await mark('end');
  await closeAll(held);
  await Promise.all(closing);
  r.rate = wall > 0 ? r.ok / wall : 0;
  Object.assign(r, connectMs.summary());
  if (p.transports === 'default' && !p.hold) {
    r.extra.upgraded = upgraded;
    r.extra.upgradeErrors = upgradeErrors;
  }
  return r;
}

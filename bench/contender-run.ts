/** One run of one contender: start it and a client, run every workload, stop both. */
import { Running, type ContenderSpec } from './contenders';
import { ClientProcess, type Measured } from './harness';
import { hardTimeoutMs, sizes } from './plan';
import { DISTURBED_PCT, type RunRecord } from './report';
import type { WorkloadName } from './types';

export interface RunContext {
  run: number;
  runs: number;
  quick: boolean;
  workloads: readonly WorkloadName[];
  record(r: RunRecord): void;
}

/** The progress line of one workload. */
function progress(m: Measured): string {
  const r = m.result;
  const bad = r.failed + r.hung > 0 ? `, FAILED ${r.failed} HUNG ${r.hung} of ${r.attempted}` : '';
  const top = Object.entries(r.reasons).sort((a, b) => b[1] - a[1])[0];
  const pids = Object.values(r.pids);
  return (
    `${r.rate.toFixed(0)}/s ok ${r.ok}/${r.attempted}${bad}${top && bad ? ` (${top[0]})` : ''}` +
    `, p99 ${r.p99 ?? '-'} ms, CPU% P/W/C ${m.cpu.primaryPct ?? '-'}/${m.cpu.workersEachPct.join('+') || '-'}/${m.cpu.clientPct ?? '-'}` +
    (pids.length > 0 ? `, per worker ${pids.join('/')}` : '') +
    (r.handoffUs ? `, handoff p50/p99 ${r.handoffUs.p50 ?? '-'}/${r.handoffUs.p99 ?? '-'} us${r.afterSendUs ? `, after send ${r.afterSendUs.p50 ?? '-'}/${r.afterSendUs.p99 ?? '-'} us` : ''} (offered ${r.extra.offered}/s, shed ${r.extra.shed ?? 0})` : '') +
    ((m.cpu.otherPct ?? 0) > DISTURBED_PCT ? `, DISTURBED: other processes used ${m.cpu.otherPct}% CPU` : '')
  );
}

const secs = (since: number): string => ((Date.now() - since) / 1000).toFixed(1);

/** Every workload gets a record: a measurement, or the error that stopped it. Never throws. */
export async function runContender(spec: ContenderSpec, ctx: RunContext): Promise<void> {
  const tag = `[run ${ctx.run}/${ctx.runs}] ${spec.label}`;
  const record = (workload: WorkloadName, r: Pick<RunRecord, 'measured' | 'error'>): void =>
    ctx.record({ contender: spec.id, run: ctx.run, workload, ...r });
  const why = spec.unavailable();
  if (why !== null) {
    console.log(`${tag}: skipped, ${why}`);
    for (const wl of ctx.workloads) record(wl, { error: `unavailable: ${why}` });
    return;
  }
  // The client process starts (tsx compile) while the contender boots.
  let client = ClientProcess.start();
  const tStart = Date.now();
  let server: Running;
  try {
    server = await Running.start(spec, 20_000);
  } catch (e) {
    const msg = (e as Error).message;
    console.log(`${tag}: START FAILED ${msg}`);
    for (const wl of ctx.workloads) record(wl, { error: `start failed: ${msg.split('\n')[0]}` });
    await client.stop();
    return;
  }
  console.log(`${tag}: up on port ${server.port} in ${secs(tStart)} s (primary ${server.pid}, workers ${server.workerPids().join(',') || '-'})`);
  try {
    for (const wl of ctx.workloads) {
      if (server.exitedHow !== null) {
        record(wl, { error: `contender died (${server.exitedHow})` });
        console.log(`${tag} · ${wl}: contender died (${server.exitedHow}); last output:\n${server.output()}`);
        continue;
      }
      if (!client.alive) client = ClientProcess.start();
      const s = sizes(wl, ctx.quick);
      const t0 = Date.now();
      try {
        const m = await client.run(
          wl,
          { ...s, url: server.url, host: '127.0.0.1', port: server.port },
          { primary: server.pid, workers: () => server.workerPids() },
          hardTimeoutMs(s),
        );
        record(wl, { measured: m });
        console.log(`${tag} · ${wl}: ${progress(m)} (${secs(t0)} s)`);
      } catch (e) {
        const msg = (e as Error).message;
        record(wl, { error: msg.split('\n')[0] ?? msg });
        console.log(`${tag} · ${wl}: ERROR ${msg}`);
      }
    }
  } finally {
    const tStop = Date.now();
    await Promise.all([server.stop(), client.stop()]);
    if (Date.now() - tStop > 1000) console.log(`${tag}: took ${secs(tStop)} s to stop after SIGTERM`);
  }
}

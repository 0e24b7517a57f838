/**
 * corral past one machine: two simulated hosts (corral on 127.0.1.1 and 127.0.1.2) behind
 * nginx, Socket.IO broadcasts through Redis; prints markdown tables with ratios and writes
 * bench/results/hosts.{md,json}.
 *
 *   node --import tsx bench/hosts.ts [--quick] [--runs N] [--only id,id] [--out dir]
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './contenders';
import { killAllClientsNow } from './harness';
import { LoadCheck } from './load-check';
import { CORRAL_CLI } from './multihost/corral-host';
import { killAllFrontsNow } from './multihost/front';
import { killAllGroupsNow } from './multihost/group';
import { writeHostsResults, type HostsRunInfo } from './multihost/results';
import { removeTempDirsNow, runScenario, type HostsRecord } from './multihost/scenario-run';
import { SCENARIOS, type Scenario } from './multihost/scenarios';

const USAGE = `usage: node --import tsx bench/hosts.ts [--quick] [--runs N] [--only ids] [--out dir]
  scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`;

function options(): { quick: boolean; runs: number; scenarios: Scenario[]; out: string } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be 1..20, got ${values.runs}`);
  let scenarios = [...SCENARIOS];
  if (values.only !== undefined) {
    const want = values.only.split(',').map((s) => s.trim());
    const bad = want.filter((w) => !SCENARIOS.some((s) => s.id === w));
    if (bad.length > 0) throw new Error(`unknown scenario: ${bad.join(', ')}\n${USAGE}`);
    scenarios = SCENARIOS.filter((s) => want.includes(s.id));
  }
  return { quick, runs, scenarios, out: values.out ?? path.join(ROOT, 'bench', 'results') };
}

function killAll(): void {
  killAllClientsNow();
  killAllFrontsNow();
  killAllGroupsNow();
  removeTempDirsNow();
}

/** Kills everything we started on exit; on a signal, also writes what was measured so far. */
function cleanupOnExit(writePartial: (why: string) => void): void {
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping nginx, corral hosts, Redis and clients\n`);
      killAll();
      try {
        writePartial(`interrupted by ${sig}: partial results`);
      } catch (e) {
        process.stderr.write(`bench: could not write partial results: ${(e as Error).message}\n`);
      }
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

async function main(): Promise<void> {
  const opt = options();
  if (!existsSync(CORRAL_CLI)) throw new Error('not built: dist/cli/main.js missing (npm run build)');
  const started = Date.now();
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Linux ${os.release()}, Node ${process.version}`;
  const records: HostsRecord[] = [];
  const load = new LoadCheck(opt.quick ? 0 : 20_000);
  const info = (extra: readonly string[]): HostsRunInfo => ({
    started,
    machine,
    quick: opt.quick,
    runs: opt.runs,
    scenarios: opt.scenarios,
    warnings: [...extra, ...load.warnings],
    out: opt.out,
  });
  console.log(`corral bench, past one machine (${opt.quick ? 'quick' : 'full'}, ${opt.runs} run(s) per scenario) on ${machine}`);
  console.log('note: both hosts, nginx, Redis and the load generator share these cores; compare ratios within one run.');
  cleanupOnExit((why) => {
    if (records.length > 0) writeHostsResults(info([why]), records);
  });
  await load.check('start');
  for (let run = 1; run <= opt.runs; run++) {
    // Rotate the order each run so no scenario always goes first.
    const order = opt.scenarios.map((_, i) => opt.scenarios[(i + run - 1) % opt.scenarios.length] as Scenario);
    for (const sc of order) {
      const tag = `[run ${run}/${opt.runs}] ${sc.id}`;
      await load.check(`run ${run} ${sc.id}`);
      const t0 = Date.now();
      const rec = await runScenario(sc, run, opt.quick, tag);
      records.push(rec);
      console.log(`${tag}: ${progress(rec)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  writeHostsResults(info([]), records);
}

function progress(r: HostsRecord): string {
  const m = r.measured;
  if (!m) return `ERROR ${r.error ?? 'no measurement'}`;
  const res = m.result;
  const bad = res.failed + res.hung > 0 ? `, FAILED ${res.failed} HUNG ${res.hung} of ${res.attempted}` : '';
  const top = Object.entries(res.reasons).sort((a, b) => b[1] - a[1])[0];
  const per = r.perWorker.map((w) => `${w.host}.${w.slot}=${w.clients}`).join(' ');
  const x = r.extraCpu;
  return (
    `${res.rate.toFixed(0)}/s ok ${res.ok}${bad}${top && bad ? ` (${top[0]})` : ''}, p50/p99 ${res.p50 ?? '-'}/${res.p99 ?? '-'} ms` +
    `, clients ${per || '-'}, fwd ${r.forwarded ?? '?'} relayed ${r.relayed ?? '?'}` +
    `, CPU% P/W/nginx/redis/C ${x?.primariesPct ?? '-'}/${m.cpu.workersEachPct.join('+') || '-'}/${x?.nginxPct ?? '-'}/${x?.redisPct ?? '-'}/${m.cpu.clientPct ?? '-'}` +
    (r.error ? `, ERROR ${r.error}` : '')
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

/**
 * corral's benchmark: every contender runs the same app (bench/app.js) with 2 workers and
 * the same client workloads, in the same run; prints markdown tables with ratios and target
 * verdicts, writes bench/results/latest.{json,md} and rates.svg. `--idle N` and `--soak DUR`
 * run the idle-WebSockets and soak benches instead (bench/idle/, bench/soak/).
 *
 *   node --import tsx bench/run.ts [--quick] [--runs N] [--only id,id] [--workloads w,w] [--out dir]
 *   node --import tsx bench/run.ts --idle 50000 [--hold 60s] [--ping-interval 10s]
 *   node --import tsx bench/run.ts --soak 30m [--reload-every 5m] [--kill-every 7m]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runContender } from './contender-run';
import { CONTENDERS, OPTIONAL_CONTENDERS, ROOT, killAllContendersNow, type ContenderSpec } from './contenders';
import { parseDuration } from './duration';
import { runIdle } from './idle/run';
import { runSoak } from './soak/run';
import { killAllClientsNow } from './harness';
import { LoadCheck } from './load-check';
import { WORKLOADS } from './plan';
import type { RunRecord } from './report';
import { writeResults, type RunInfo } from './results';
import type { WorkloadName } from './types';

const USAGE = `usage: node --import tsx bench/run.ts [--quick] [--runs N] [--only ids] [--workloads names] [--out dir]
       node --import tsx bench/run.ts --idle N [--hold 60s] [--ping-interval 10s] [--out dir]
       node --import tsx bench/run.ts --soak DURATION [--reload-every 5m] [--kill-every 7m] [--out dir]
  contenders: ${CONTENDERS.map((c) => c.id).join(', ')} (and, with --only: ${OPTIONAL_CONTENDERS.map((c) => c.id).join(', ')})
  workloads:  ${WORKLOADS.join(', ')}
  durations:  90s, 2m, 30m, 1h, 1h30m`;

type Mode =
  | { kind: 'suite'; quick: boolean; runs: number; specs: ContenderSpec[]; workloads: WorkloadName[]; out: string }
  | { kind: 'idle'; count: number; holdMs: number; pingIntervalMs: number; out: string }
  | { kind: 'soak'; durationMs: number; reloadEveryMs: number; killEveryMs: number; out: string };

function options(): Mode {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      workloads: { type: 'string' },
      out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
      idle: { type: 'string' },
      hold: { type: 'string', default: '60s' },
      'ping-interval': { type: 'string', default: '10s' },
      soak: { type: 'string' },
      'reload-every': { type: 'string', default: '5m' },
      'kill-every': { type: 'string', default: '7m' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const out = values.out ?? path.join(ROOT, 'bench', 'results');
  if (values.idle !== undefined && values.soak !== undefined) throw new Error(`--idle and --soak are separate runs\n${USAGE}`);
  if (values.idle !== undefined) {
    const count = Number(values.idle);
    if (!Number.isInteger(count) || count < 10 || count > 1_000_000) throw new Error(`--idle must be a number of connections, 10..1000000, got ${values.idle}`);
    const holdMs = parseDuration(values.hold ?? '60s', '--hold');
    const pingIntervalMs = parseDuration(values['ping-interval'] ?? '10s', '--ping-interval');
    if (pingIntervalMs < 1000) throw new Error('--ping-interval must be at least 1s');
    return { kind: 'idle', count, holdMs, pingIntervalMs, out };
  }
  if (values.soak !== undefined) {
    const durationMs = parseDuration(values.soak, '--soak');
    if (durationMs < 30_000) throw new Error('--soak must be at least 30s');
    const reloadEveryMs = parseDuration(values['reload-every'] ?? '5m', '--reload-every');
    const killEveryMs = parseDuration(values['kill-every'] ?? '7m', '--kill-every');
    if (reloadEveryMs < 10_000 || killEveryMs < 10_000) throw new Error('--reload-every and --kill-every must be at least 10s');
    return { kind: 'soak', durationMs, reloadEveryMs, killEveryMs, out };
  }
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be 1..20, got ${values.runs}`);
  const pick = <T extends string>(arg: string | undefined, all: readonly T[], what: string): T[] => {
    if (arg === undefined) return [...all];
    const want = arg.split(',').map((s) => s.trim());
    const bad = want.filter((w) => !all.includes(w as T));
    if (bad.length > 0) throw new Error(`unknown ${what}: ${bad.join(', ')}\n${USAGE}`);
    return all.filter((a) => want.includes(a));
  };
  const all = [...CONTENDERS, ...OPTIONAL_CONTENDERS];
  const ids = values.only === undefined ? CONTENDERS.map((c) => c.id) : pick(values.only, all.map((c) => c.id), 'contender');
  return {
    kind: 'suite',
    quick,
    runs,
    specs: all.filter((c) => ids.includes(c.id)),
    workloads: pick(values.workloads, WORKLOADS, 'workload'),
    out,
  };
}

/** Kills everything we started on exit; on a signal, also writes what was measured so far. */
function cleanupOnExit(writePartial: (why: string) => void): void {
  const killAll = (): void => {
    killAllClientsNow();
    killAllContendersNow();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping contenders and clients\n`);
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
  const mode = options();
  if (mode.kind === 'idle') {
    cleanupOnExit(() => undefined);
    return runIdle(mode);
  }
  if (mode.kind === 'soak') {
    return runSoak(mode);
  }
  const opt = mode;
  const started = Date.now();
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Linux ${os.release()}, Node ${process.version}`;
  const records: RunRecord[] = [];
  const info = (warnings: readonly string[]): RunInfo => ({
    started,
    machine,
    quick: opt.quick,
    runs: opt.runs,
    specs: opt.specs,
    workloads: opt.workloads,
    warnings,
    out: opt.out,
  });
  console.log(`corral bench (${opt.quick ? 'quick' : 'full'}, ${opt.runs} run(s) per contender) on ${machine}`);
  console.log('note: the load generator runs on the same cores as the servers; compare ratios within one run.');
  // Full runs wait (bounded) for other work on the machine to finish; quick runs only warn.
  const load = new LoadCheck(opt.quick ? 0 : 20_000);
  cleanupOnExit((why) => {
    if (records.length > 0) writeResults(info([why, ...load.warnings]), records);
  });
  await load.check('start');
  for (let run = 1; run <= opt.runs; run++) {
    // Rotate the order each run so no contender always goes first (cold caches, drift).
    const order = opt.specs.map((_, i) => opt.specs[(i + run - 1) % opt.specs.length] as ContenderSpec);
    for (const spec of order) {
      if (spec.unavailable() === null) await load.check(`run ${run} ${spec.id}`);
      await runContender(spec, { run, runs: opt.runs, quick: opt.quick, workloads: opt.workloads, record: (r) => records.push(r) });
    }
  }
  writeResults(info(load.warnings), records);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

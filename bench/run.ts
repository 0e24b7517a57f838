/**
 * corral's benchmark: every contender runs the same app (bench/app.js) with 2 workers and
 * the same client workloads, in the same run; prints markdown tables with ratios and target
 * verdicts, writes bench/results/latest.{json,md}.
 *
 *   node --import tsx bench/run.ts [--quick] [--runs N] [--only id,id] [--workloads w,w] [--out dir]
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runContender } from './contender-run';
import { CONTENDERS, ROOT, killAllContendersNow, type ContenderSpec } from './contenders';
import { killAllClientsNow } from './harness';
import { LoadCheck } from './load-check';
import { WORKLOADS } from './plan';
import type { RunRecord } from './report';
import { writeResults, type RunInfo } from './results';
import type { WorkloadName } from './types';

const USAGE = `usage: node --import tsx bench/run.ts [--quick] [--runs N] [--only ids] [--workloads names] [--out dir]
  contenders: ${CONTENDERS.map((c) => c.id).join(', ')}
  workloads:  ${WORKLOADS.join(', ')}`;

function options(): { quick: boolean; runs: number; specs: ContenderSpec[]; workloads: WorkloadName[]; out: string } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      workloads: { type: 'string' },
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
  const pick = <T extends string>(arg: string | undefined, all: readonly T[], what: string): T[] => {
    if (arg === undefined) return [...all];
    const want = arg.split(',').map((s) => s.trim());
    const bad = want.filter((w) => !all.includes(w as T));
    if (bad.length > 0) throw new Error(`unknown ${what}: ${bad.join(', ')}\n${USAGE}`);
    return all.filter((a) => want.includes(a));
  };
  const ids = pick(values.only, CONTENDERS.map((c) => c.id), 'contender');
  return {
    quick,
    runs,
    specs: CONTENDERS.filter((c) => ids.includes(c.id)),
    workloads: pick(values.workloads, WORKLOADS, 'workload'),
    out: values.out ?? path.join(ROOT, 'bench', 'results'),
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
  const opt = options();
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

/** The printed document (markdown) and the files under bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContenderSpec } from './contenders';
import { sizes } from './plan';
import { DISTURBED_PCT, aggregate, baselineOf, fmtRate, overviewTable, targets, targetsTable, workloadTable, type RunRecord, type Summary } from './report';
import { barChart } from './svg';
import type { WorkloadName } from './types';

export interface RunInfo {
  started: number;
  machine: string;
  quick: boolean;
  runs: number;
  specs: readonly ContenderSpec[];
  workloads: readonly WorkloadName[];
  warnings: readonly string[];
  out: string;
}

/** Renders, prints and writes latest.md and latest.json; returns the markdown. */
export function writeResults(info: RunInfo, records: readonly RunRecord[]): string {
  const summary = aggregate(records, info.specs);
  const base = baselineOf(summary);
  const ts = targets(summary, sizes('footprint', info.quick).count);
  const warnings = [...info.warnings];
  const disturbed = records.filter((r) => (r.measured?.cpu.otherPct ?? 0) > DISTURBED_PCT);
  if (disturbed.length > 0) {
    warnings.push(
      `${disturbed.length} measurement(s) marked * ran while other processes used > ${DISTURBED_PCT}% of a core: ` +
        disturbed.map((r) => `${r.contender} ${r.workload} (${r.measured?.cpu.otherPct}%)`).join(', '),
    );
  }
  const durationS = Math.round((Date.now() - info.started) / 1000);
  const md = [
    `## corral bench, ${new Date(info.started).toISOString().slice(0, 16).replace('T', ' ')} UTC (${info.quick ? 'quick' : 'full'})`,
    '',
    `Duration: ${duration(durationS)}. ![rates per contender](rates.svg)`,
    '',
    `Machine: ${info.machine}. Each contender runs bench/app.js with 2 workers (single: 1 process). ` +
      `Figures are medians of ${info.runs} run(s); failures are summed over runs. ` +
      `Ratios are against ${base}. CPU% P/W/C = primary / each worker / load generator, in % of one core ` +
      '(single process: P is the app). The load generator shares the same cores, so absolute figures are ' +
      'a floor; ratios within one run are the figures that count. Clients come from 127.0.0.2-33 except ' +
      'balance-one-ip (127.0.0.1) and keep-alive HTTP (autocannon, 127.0.0.1 only: an IP-hash router ' +
      '(sticky-session, corral --sticky ip) serves it with one worker).',
    ...(warnings.length > 0 ? ['', ...warnings.map((w) => `WARNING: ${w}`)] : []),
    '',
    `### Overview: rate per second (x ${base}); balance as max/min sessions per worker; !N = N failed or hung`,
    '',
    overviewTable(info.workloads, summary, info.specs),
    '',
    ...info.workloads.flatMap((wl) => [workloadTable(wl, summary, info.specs), '']),
    '### Targets (corral --sticky sid unless said)',
    '',
    targetsTable(ts),
    '',
  ].join('\n');
  console.log(`\n${md}`);
  const json = {
    date: new Date(info.started).toISOString(),
    durationS,
    mode: info.quick ? 'quick' : 'full',
    runs: info.runs,
    machine: info.machine,
    cpus: os.cpus().length,
    warnings,
    sizes: Object.fromEntries(info.workloads.map((wl) => [wl, sizes(wl, info.quick)])),
    contenders: info.specs.map((s) => ({ id: s.id, label: s.label, workers: s.workers })),
    baseline: base,
    summary,
    targets: ts,
    records,
  };
  mkdirSync(info.out, { recursive: true });
  writeFileSync(path.join(info.out, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(info.out, 'latest.md'), md);
  writeFileSync(path.join(info.out, 'rates.svg'), ratesSvg(info, summary));
  console.log(`wrote ${path.relative(process.cwd(), path.join(info.out, 'latest.json'))}, latest.md and rates.svg; the run took ${duration(durationS)}`);
  return md;
}

/** "1 h 02 min 05 s", "3 min 20 s", "42 s". */
export function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min ${String(sec).padStart(2, '0')} s`;
  return m > 0 ? `${m} min ${sec} s` : `${sec} s`;
}

/** Workloads whose rate is a throughput (balance counts sessions; handoff-latency is offered a fixed rate). */
const CHARTED = (wl: WorkloadName): boolean => !wl.startsWith('balance') && wl !== 'handoff-latency';

/**
 * One group of bars per workload, one bar per contender: its median rate as a % of the fastest
 * contender in that workload (rates differ by 100x between workloads), the rate written on it.
 */
function ratesSvg(info: RunInfo, summary: Summary): string {
  const groups = info.workloads.filter(CHARTED).map((wl) => {
    const rates = info.specs.map((s) => summary[s.id]?.[wl]?.rate ?? null);
    const best = Math.max(0, ...rates.map((r) => r ?? 0));
    return {
      label: wl,
      bars: rates.map((r) => ({ value: r === null || best === 0 ? null : (r / best) * 100, label: r === null ? '' : `${fmtRate(r)}/s` })),
    };
  });
  return barChart({
    title: `corral bench: median rate per contender (${info.quick ? 'quick, smoke sizes' : 'full'}, ${info.runs} run(s))`,
    subtitle: `${new Date(info.started).toISOString().slice(0, 10)}, ${info.machine}; bar = % of the fastest contender in that workload`,
    yLabel: '% of the fastest in the workload',
    series: info.specs.map((s) => s.label),
    groups,
  });
}

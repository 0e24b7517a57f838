/** Medians over runs, the markdown tables, and bench/results/hosts.{md,json}. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sizes } from '../plan';
import { DISTURBED_PCT, failures, fmt, fmtRate, table } from '../report';
import { median } from '../stats';
import type { HostsRecord } from './scenario-run';
import { GROUP_TITLE, HOSTS, WORKERS_PER_HOST, type Scenario, type ScenarioId } from './scenarios';

/** The run as a whole, for the report's header. */
export interface HostsRunInfo {
  started: number;
  machine: string;
  quick: boolean;
  runs: number;
  scenarios: readonly Scenario[];
  warnings: readonly string[];
  out: string;
}

/** One scenario over its runs: medians for figures, sums for failures. */
export interface HostsCell {
  runs: number;
  errors: string[];
  rate: number | null;
  vsBaseline: number | null;
  p50: number | null;
  p99: number | null;
  attempted: number;
  failed: number;
  hung: number;
  reasons: Record<string, number>;
  /** Clients per worker in the first measured run, as "h1 100/100, h2 99/101". */
  perWorker: string;
  /** Per run. */
  forwarded: (number | null)[];
  relayed: (number | null)[];
  /** Median over runs of forwarded requests per successful operation. */
  forwardedPerOp: number | null;
  cpu: { primaries: number | null; workersEach: number[]; nginx: number | null; redis: number | null; client: number | null; otherMax: number | null };
}

const med = (rs: readonly HostsRecord[], f: (r: HostsRecord) => number | null | undefined): number | null => median(rs.map((r) => f(r) ?? null));

/** Every scenario's cell, with its ratio to its group's baseline. */
export function aggregate(records: readonly HostsRecord[], scenarios: readonly Scenario[]): Partial<Record<ScenarioId, HostsCell>> {
  const out: Partial<Record<ScenarioId, HostsCell>> = {};
  for (const sc of scenarios) {
    const rs = records.filter((r) => r.scenario === sc.id);
    if (rs.length === 0) continue;
    const ok = rs.filter((r) => r.measured !== undefined);
    const first = ok[0];
    const cell: HostsCell = {
      runs: rs.length,
      errors: rs.flatMap((r) => (r.error ? [r.error] : [])),
      rate: med(ok, (r) => r.measured?.result.rate),
      vsBaseline: null,
      p50: med(ok, (r) => r.measured?.result.p50),
      p99: med(ok, (r) => r.measured?.result.p99),
      attempted: 0,
      failed: 0,
      hung: 0,
      reasons: {},
      perWorker: first ? perWorker(first) : '-',
      forwarded: ok.map((r) => r.forwarded),
      relayed: ok.map((r) => r.relayed),
      forwardedPerOp: med(ok, (r) => (r.forwarded === null || !r.measured?.result.ok ? null : r.forwarded / r.measured.result.ok)),
      cpu: {
        primaries: med(ok, (r) => r.extraCpu?.primariesPct),
        workersEach: Array.from({ length: Math.max(0, ...ok.map((r) => r.measured?.cpu.workersEachPct.length ?? 0)) }, (_, i) =>
          Math.round(med(ok, (r) => r.measured?.cpu.workersEachPct[i]) ?? 0),
        ),
        nginx: med(ok, (r) => r.extraCpu?.nginxPct),
        redis: med(ok, (r) => r.extraCpu?.redisPct),
        client: med(ok, (r) => r.measured?.cpu.clientPct),
        otherMax: ok.reduce<number | null>((acc, r) => (r.extraCpu?.otherPct == null ? acc : Math.max(acc ?? 0, r.extraCpu.otherPct)), null),
      },
    };
    for (const r of ok) {
      const m = r.measured;
      if (!m) continue;
      cell.attempted += m.result.attempted;
      cell.failed += m.result.failed;
      cell.hung += m.result.hung;
      for (const [k, v] of Object.entries(m.result.reasons)) cell.reasons[k] = (cell.reasons[k] ?? 0) + v;
    }
    out[sc.id] = cell;
  }
  for (const sc of scenarios) {
    const c = out[sc.id];
    const base = out[sc.baseline]?.rate ?? null;
    if (c && c.rate !== null && base !== null && base > 0) c.vsBaseline = c.rate / base;
  }
  return out;
}

function perWorker(r: HostsRecord): string {
  const byHost = new Map<string, number[]>();
  for (const w of r.perWorker) byHost.set(w.host, [...(byHost.get(w.host) ?? []), w.clients]);
  const stray = Object.values(r.strayPids).reduce((a, b) => a + b, 0);
  return [...byHost].map(([h, n]) => `${h} ${n.join('/')}`).join(', ') + (stray > 0 ? `, ${stray} on unknown pids` : '');
}

/** Workers that got no client in some run, and sessions on pids that are no worker. */
export function balanceWarnings(records: readonly HostsRecord[], scenarios: readonly Scenario[]): string[] {
  const out: string[] = [];
  for (const r of records) {
    if (!r.measured) continue;
    const sc = scenarios.find((s) => s.id === r.scenario);
    const idle = r.perWorker.filter((w) => w.clients === 0);
    const expected = (sc?.hosts ?? 1) * WORKERS_PER_HOST;
    if (idle.length > 0 || r.perWorker.length < expected) {
      out.push(`${r.scenario} run ${r.run}: ${idle.length > 0 ? `no client on ${idle.map((w) => `${w.host} slot ${w.slot}`).join(', ')}` : `only ${r.perWorker.length}/${expected} workers seen`}`);
    }
    if (Object.keys(r.strayPids).length > 0) out.push(`${r.scenario} run ${r.run}: sessions on pids that are no worker: ${JSON.stringify(r.strayPids)}`);
    if (r.statusError) out.push(`${r.scenario} run ${r.run}: ${r.statusError}`);
    if ((r.extraCpu?.otherPct ?? 0) > DISTURBED_PCT) out.push(`${r.scenario} run ${r.run}: other processes used ${r.extraCpu?.otherPct}% of a core (figure marked *)`);
  }
  return out;
}

const runs = (xs: readonly (number | null)[]): string => (xs.length === 0 ? '-' : xs.map((x) => (x === null ? '?' : String(x))).join(' / '));


function groupTable(group: Scenario['group'], scenarios: readonly Scenario[], summary: Partial<Record<ScenarioId, HostsCell>>): string {
  const mine = scenarios.filter((s) => s.group === group);
  const baseLabel = scenarios.find((s) => s.id === mine[0]?.baseline)?.label.slice(0, 3) ?? 'base';
  const head = ['scenario', 'rate', `vs ${baseLabel}`, 'failures', 'p50 ms', 'p99 ms', 'clients per worker', 'fwd per run (per op); ws relayed', 'CPU% primaries/workers/nginx/redis/client'];
  const rows = mine.map((s) => {
    const c = summary[s.id];
    if (!c || c.rate === null) return [s.label, c?.errors[0]?.slice(0, 90) ?? 'not run', ...head.slice(2).map(() => '')];
    const cpu = c.cpu;
    const star = (cpu.otherMax ?? 0) > DISTURBED_PCT ? ' *' : '';
    return [
      s.label,
      fmtRate(c.rate) + star,
      s.id === s.baseline ? '1.00x' : `${fmt(c.vsBaseline, 2)}x`,
      failures(c) + (c.errors.length > 0 ? ` [${c.errors.length} run(s) errored]` : ''),
      fmt(c.p50, 1),
      fmt(c.p99, 1),
      c.perWorker,
      `${runs(c.forwarded)} (${fmt(c.forwardedPerOp, 2)}); ws ${runs(c.relayed)}`,
      `${fmt(cpu.primaries)}/${cpu.workersEach.join('+') || '-'}/${fmt(cpu.nginx)}/${fmt(cpu.redis)}/${fmt(cpu.client)}`,
    ];
  });
  return `### ${GROUP_TITLE[group]}\n\n${table(head, rows)}`;
}

/** Renders, prints and writes hosts.md and hosts.json; returns the markdown. */
export function writeHostsResults(info: HostsRunInfo, records: readonly HostsRecord[]): string {
  const summary = aggregate(records, info.scenarios);
  const warnings = [...info.warnings, ...balanceWarnings(records, info.scenarios)];
  const durationS = Math.round((Date.now() - info.started) / 1000);
  const bc = sizes('broadcast', info.quick);
  const ep = sizes('echo-polling', info.quick);
  const md = [
    `## corral bench: past one machine, ${new Date(info.started).toISOString().slice(0, 16).replace('T', ' ')} UTC (${info.quick ? 'quick' : 'full'}, ${durationS} s)`,
    '',
    `Machine: ${info.machine}. ${HOSTS.map((h) => `${h.id} = corral on ${h.address}`).join(', ')} (same port, ${WORKERS_PER_HOST} workers each, ` +
      'bench/app.js), behind nginx on 127.0.0.1 running `corral lb-config nginx`; Redis of its own. ' +
      `Clients: broadcast ${bc.count} WebSocket clients for ${bc.durationMs / 1000} s, polling echo ${ep.count} clients for ${ep.durationMs / 1000} s, ` +
      `from 127.0.0.2-33. Figures are medians of ${info.runs} run(s); failures are summed over runs.`,
    '',
    `**Everything here (both "hosts", nginx, Redis and the load generator) shares the same ${os.cpus().length} cores, ` +
      'so absolute rates are far below what separate machines give; compare the ratios within this run.**',
    '',
    'fwd = requests a worker passed to another worker of its host (a keep-alive connection carrying another ' +
      "worker's session), summed over every worker from `corral status --json`, during the measured phase " +
      '(read with the clients idle: 1.2 s after they connected, 1.2 s after the end mark, the workers\' counters refresh once a second). ' +
      'CPU% over the measured phase, % of one core: primaries summed over hosts, each worker (largest first), nginx master+workers, Redis, load generator. ' +
      `* = other processes used > ${DISTURBED_PCT}% of a core meanwhile.`,
    ...(warnings.length > 0 ? ['', ...warnings.map((w) => `WARNING: ${w}`)] : []),
    '',
    groupTable('broadcast', info.scenarios, summary),
    '',
    groupTable('polling', info.scenarios, summary),
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
    note: 'all processes (corral hosts, nginx, Redis, load generator) share the same cores: compare ratios within one run',
    warnings,
    sizes: { broadcast: bc, 'echo-polling': ep },
    scenarios: info.scenarios,
    summary,
    records,
  };
  mkdirSync(info.out, { recursive: true });
  writeFileSync(path.join(info.out, 'hosts.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(info.out, 'hosts.md'), md);
  console.log(`wrote ${path.relative(process.cwd(), path.join(info.out, 'hosts.json'))} and hosts.md in ${durationS} s`);
  return md;
}

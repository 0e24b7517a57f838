/** Turns the runs into medians, tables (markdown, readable in a terminal) and target verdicts. */
import type { ContenderId, ContenderSpec } from './contenders';
import type { Measured } from './harness';
import { DESCRIPTION } from './plan';
import { balanceRatio, median } from './stats';
import type { WorkloadName } from './types';

export interface RunRecord {
  contender: ContenderId;
  run: number;
  workload: WorkloadName;
  measured?: Measured;
  error?: string;
}

/** One contender x workload, over its runs: medians for figures, sums for failures. */
export interface Cell {
  runs: number;
  errors: string[];
  rate: number | null;
  p50: number | null;
  p99: number | null;
  attempted: number;
  ok: number;
  failed: number;
  hung: number;
  reasons: Record<string, number>;
  primaryPct: number | null;
  workersPct: number | null;
  /** Median over runs of each worker's CPU %, largest first. */
  workersEachPct: number[];
  clientPct: number | null;
  /** Worst CPU use by other processes during a run, % of one core. */
  otherPct: number | null;
  /** Primary CPU per connection the workload opened, microseconds. */
  primaryUsPerConn: number | null;
  rssGrowthKb: number | null;
  /** Growth over the second half of the sessions only: a leak keeps growing, a heap settles. */
  rssGrowthSecondHalfKb: number | null;
  rssEndKb: number | null;
  balance: number | null;
  /** rate / the baseline contender's rate in the same workload. */
  vsBaseline: number | null;
  /** Per-worker session counts of the first measured run, largest first. */
  perWorker: number[];
  extra: Record<string, number>;
  /** handoff-latency: medians over runs of each run's p50 / p99, microseconds. */
  handoffP50Us: number | null;
  handoffP99Us: number | null;
  /** handoff-latency: the same from the client's write of its request (0 when the worker had the connection first). */
  afterSendP50Us: number | null;
  afterSendP99Us: number | null;
}

export type Summary = Partial<Record<ContenderId, Partial<Record<WorkloadName, Cell>>>>;

export function aggregate(records: readonly RunRecord[], specs: readonly ContenderSpec[]): Summary {
  const out: Summary = {};
  for (const spec of specs) {
    const mine = records.filter((r) => r.contender === spec.id);
    const byWorkload: Partial<Record<WorkloadName, Cell>> = {};
    for (const wl of new Set(mine.map((r) => r.workload))) {
      const rs = mine.filter((r) => r.workload === wl);
      const ms = rs.flatMap((r) => (r.measured ? [r.measured] : []));
      const cell: Cell = {
        runs: rs.length,
        errors: rs.flatMap((r) => (r.error ? [r.error] : [])),
        rate: median(ms.map((m) => m.result.rate)),
        p50: median(ms.map((m) => m.result.p50)),
        p99: median(ms.map((m) => m.result.p99)),
        attempted: 0,
        ok: 0,
        failed: 0,
        hung: 0,
        reasons: {},
        primaryPct: median(ms.map((m) => m.cpu.primaryPct)),
        workersPct: median(ms.map((m) => m.cpu.workersPct)),
        workersEachPct: Array.from({ length: Math.max(0, ...ms.map((m) => m.cpu.workersEachPct.length)) }, (_, i) =>
          Math.round(median(ms.map((m) => m.cpu.workersEachPct[i] ?? null)) ?? 0),
        ),
        clientPct: median(ms.map((m) => m.cpu.clientPct)),
        otherPct: ms.reduce<number | null>((acc, m) => (m.cpu.otherPct === null ? acc : Math.max(acc ?? 0, m.cpu.otherPct)), null),
        primaryUsPerConn: median(
          ms.map((m) => (m.result.connections && m.cpu.primaryMs !== null ? (m.cpu.primaryMs * 1000) / m.result.connections : null)),
        ),
        rssGrowthKb: median(
          ms.map((m) => (m.cpu.primaryRssStartKb !== null && m.cpu.primaryRssEndKb !== null ? m.cpu.primaryRssEndKb - m.cpu.primaryRssStartKb : null)),
        ),
        rssGrowthSecondHalfKb: median(
          ms.map((m) => (m.cpu.primaryRssHalfKb !== null && m.cpu.primaryRssEndKb !== null ? m.cpu.primaryRssEndKb - m.cpu.primaryRssHalfKb : null)),
        ),
        rssEndKb: median(ms.map((m) => m.cpu.primaryRssEndKb)),
        balance: median(ms.map((m) => balanceRatio(m.result.pids, spec.workers))),
        vsBaseline: null,
        perWorker: [],
        extra: {},
        handoffP50Us: median(ms.map((m) => m.result.handoffUs?.p50 ?? null)),
        handoffP99Us: median(ms.map((m) => m.result.handoffUs?.p99 ?? null)),
        afterSendP50Us: median(ms.map((m) => m.result.afterSendUs?.p50 ?? null)),
        afterSendP99Us: median(ms.map((m) => m.result.afterSendUs?.p99 ?? null)),
      };
      for (const m of ms) {
        cell.attempted += m.result.attempted;
        cell.ok += m.result.ok;
        cell.failed += m.result.failed;
        cell.hung += m.result.hung;
        for (const [k, v] of Object.entries(m.result.reasons)) cell.reasons[k] = (cell.reasons[k] ?? 0) + v;
        for (const [k, v] of Object.entries(m.result.extra)) cell.extra[k] = (cell.extra[k] ?? 0) + v;
      }
      const first = ms[0];
      if (first) {
        const counts = Object.values(first.result.pids).sort((a, b) => b - a);
        while (counts.length < spec.workers) counts.push(0);
        cell.perWorker = counts;
      }
      byWorkload[wl] = cell;
    }
    out[spec.id] = byWorkload;
  }
  const base = out[baselineOf(out)] ?? {};
  for (const byWorkload of Object.values(out)) {
    for (const [wl, cell] of Object.entries(byWorkload)) cell.vsBaseline = ratio(cell.rate, base[wl as WorkloadName]?.rate);
  }
  return out;
}

/** Other processes used this much of a core during a measurement: flag it. */
export const DISTURBED_PCT = 25;

/** A figure for a table cell ('-' when missing). */
export const fmt = (x: number | null, digits = 0): string => (x === null ? '-' : x === Infinity ? 'inf' : x.toFixed(digits));
/** A rate: whole numbers from 100 up. */
export const fmtRate = (x: number | null): string => (x === null ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(1));

const mb = (kb: number | null): string => (kb === null ? '-' : `${kb >= 0 ? '+' : ''}${(kb / 1024).toFixed(2)}`);

/** Failures and hangs of a cell, with the most common reason. */
export function failures(c: Pick<Cell, 'failed' | 'hung' | 'attempted' | 'reasons'>): string {
  if (c.failed === 0 && c.hung === 0) return c.attempted > 0 ? '0' : '-';
  const top = Object.entries(c.reasons).sort((a, b) => b[1] - a[1])[0];
  const parts = [];
  if (c.failed > 0) parts.push(`failed ${c.failed}/${c.attempted}`);
  if (c.hung > 0) parts.push(`hung ${c.hung}/${c.attempted}`);
  return `${parts.join(', ')}${top ? ` (${top[0].slice(0, 40)})` : ''}`;
}

/** A markdown table, columns padded. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The baseline ratios are taken against: corral sid if it ran, else cluster round-robin. */
export function baselineOf(summary: Summary): ContenderId {
  const ran = (id: ContenderId): boolean => Object.values(summary[id] ?? {}).some((c) => c.rate !== null);
  return ran('corral-sid') ? 'corral-sid' : 'cluster-rr';
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
}

export function workloadTable(wl: WorkloadName, summary: Summary, specs: readonly ContenderSpec[]): string {
  if (wl === 'handoff-latency') return handoffTable(summary, specs);
  const base = baselineOf(summary);
  const baseRate = summary[base]?.[wl]?.rate ?? null;
  const balance = wl.startsWith('balance');
  const head = ['contender', balance ? 'sessions/worker' : 'rate', balance ? 'max/min' : `vs ${base}`, 'failures', 'p50 ms', 'p99 ms', 'CPU% P/W/C'];
  const perConn = wl === 'http-newconn' || wl === 'footprint';
  if (perConn) head.push('primary us/conn');
  if (wl === 'footprint') head.push('primary RSS MB (growth after warm-up)');
  if (wl === 'hs-default') head.push('ws upgrades ok/err');
  const rows = specs.map((s) => {
    const c = summary[s.id]?.[wl];
    if (!c || (c.rate === null && c.errors.length > 0)) {
      const err = c?.errors[0] ?? 'not run';
      return [s.label, err.split('\n')[0]?.slice(0, 90) ?? '', ...head.slice(2).map(() => '')];
    }
    const workers = s.id === 'single' ? '-' : c.workersEachPct.length > 0 ? c.workersEachPct.join('+') : fmt(c.workersPct);
    const cpu = `${fmt(c.primaryPct)}/${workers}/${fmt(c.clientPct)}`;
    const row = [
      s.label,
      (balance ? c.perWorker.join('/') : fmtRate(c.rate)) + ((c.otherPct ?? 0) > DISTURBED_PCT ? ' *' : ''),
      balance ? fmt(c.balance, 2) : s.id === base ? '1.00x' : `${fmt(ratio(c.rate, baseRate), 2)}x`,
      failures(c) + (c.errors.length > 0 ? ` [${c.errors.length} run(s) errored]` : ''),
      fmt(c.p50, 1),
      fmt(c.p99, 1),
      cpu,
    ];
    if (perConn) row.push(fmt(c.primaryUsPerConn, 1));
    if (wl === 'footprint') row.push(`${fmt(c.rssEndKb === null ? null : c.rssEndKb / 1024, 1)} (${mb(c.rssGrowthKb)}; 2nd half ${mb(c.rssGrowthSecondHalfKb)})`);
    if (wl === 'hs-default') row.push(`${c.extra.upgraded ?? 0}/${c.extra.upgradeErrors ?? 0}`);
    return row;
  });
  return `### ${DESCRIPTION[wl]}\n\n${table(head, rows)}`;
}

/** handoff-latency: the handoff's p50/p99 next to the rate, with ratios to round-robin's and sticky-session's. */
function handoffTable(summary: Summary, specs: readonly ContenderSpec[]): string {
  const wl: WorkloadName = 'handoff-latency';
  const peers: { id: ContenderId; name: string }[] = [
    { id: 'cluster-rr', name: 'rr' },
    { id: 'sticky-session', name: 'sticky-session' },
  ];
  const head = ['contender', 'rate (offered)', 'failures', 'handoff p50 us', 'p99 us', ...peers.map((p) => `x ${p.name} p50/p99`), 'after send p50/p99 us', 'request p50/p99 ms', 'CPU% P/W/C', 'primary us/conn'];
  const rows = specs.map((s) => {
    const c = summary[s.id]?.[wl];
    if (!c || (c.rate === null && c.errors.length > 0)) return [s.label, (c?.errors[0] ?? 'not run').split('\n')[0]?.slice(0, 90) ?? '', ...head.slice(2).map(() => '')];
    const runs = Math.max(1, c.runs - c.errors.length);
    const offered = (c.extra.offered ?? 0) / runs;
    const shed = c.extra.shed ?? 0;
    const vs = (id: ContenderId): string => {
      const p = summary[id]?.[wl];
      return `${fmt(ratio(c.handoffP50Us, p?.handoffP50Us), 2)}x/${fmt(ratio(c.handoffP99Us, p?.handoffP99Us), 2)}x`;
    };
    const workers = s.id === 'single' ? '-' : c.workersEachPct.length > 0 ? c.workersEachPct.join('+') : fmt(c.workersPct);
    return [
      s.label,
      `${fmtRate(c.rate)} (${fmtRate(offered)})${(c.otherPct ?? 0) > DISTURBED_PCT ? ' *' : ''}`,
      failures(c) + (shed > 0 ? ` (shed ${shed})` : '') + (c.errors.length > 0 ? ` [${c.errors.length} run(s) errored]` : ''),
      fmt(c.handoffP50Us, 0),
      fmt(c.handoffP99Us, 0),
      ...peers.map((p) => (p.id === s.id ? '1.00x/1.00x' : vs(p.id))),
      `${fmt(c.afterSendP50Us, 0)}/${fmt(c.afterSendP99Us, 0)}`,
      `${fmt(c.p50, 2)}/${fmt(c.p99, 2)}`,
      `${fmt(c.primaryPct)}/${workers}/${fmt(c.clientPct)}`,
      fmt(c.primaryUsPerConn, 1),
    ];
  });
  return (
    `### ${DESCRIPTION[wl]}\n\n` +
    'Open loop: connections start on a schedule whatever the contender does; `shed` = scheduled connections skipped ' +
    'because 500 were in flight. Handoff = worker `connection` event minus the start of the client\'s connect, both ' +
    'CLOCK_MONOTONIC (single process: its own `connection` event, the floor). Ratios below 1 are faster. ' +
    '`after send` = the same event minus the client\'s write of its request (0 when the worker had the connection before ' +
    'the client wrote): what a router that reads the request line adds once the line is sent, without the client\'s own ' +
    'delay in sending it.\n\n' +
    table(head, rows)
  );
}

const SHORT: Record<WorkloadName, string> = {
  'hs-polling': 'hs poll',
  'hs-default': 'hs default',
  'hs-websocket': 'hs ws',
  'echo-polling': 'echo poll',
  'echo-websocket': 'echo ws',
  broadcast: 'broadcast',
  'http-keepalive': 'http k-a',
  'http-newconn': 'http new',
  'handoff-latency': 'handoff p50/p99 us',
  'balance-one-ip': 'bal 1 IP',
  'balance-spread': 'bal 32 IPs',
  footprint: 'short sess.',
};

/** One row per contender: each workload's rate (x baseline), or balance max/min; '!' marks failures. */
export function overviewTable(workloads: readonly WorkloadName[], summary: Summary, specs: readonly ContenderSpec[]): string {
  const base = baselineOf(summary);
  const rows = specs.map((s) => [
    s.label,
    ...workloads.map((wl) => {
      const c = summary[s.id]?.[wl];
      if (!c || c.rate === null) return c?.errors.length ? 'error' : '-';
      const bad = c.failed + c.hung > 0 ? ` !${c.failed + c.hung}` : '';
      if (wl.startsWith('balance')) return `${fmt(c.balance, 2)}${bad}`;
      if (wl === 'handoff-latency') return `${fmt(c.handoffP50Us)}/${fmt(c.handoffP99Us)}${bad}`;
      const x = s.id === base ? '' : ` (${fmt(c.vsBaseline, 2)}x)`;
      const star = (c.otherPct ?? 0) > DISTURBED_PCT ? ' *' : '';
      return `${fmtRate(c.rate)}${x}${bad}${star}`;
    }),
  ]);
  return table(['contender', ...workloads.map((wl) => SHORT[wl])], rows);
}

export interface Target {
  name: string;
  verdict: 'PASS' | 'FAIL' | 'n/a';
  detail: string;
}

export function targets(summary: Summary, footprintSessions: number): Target[] {
  const corral = summary['corral-sid'];
  const cell = (id: ContenderId, wl: WorkloadName): Cell | undefined => summary[id]?.[wl];
  const na = (name: string, why: string): Target => ({ name, verdict: 'n/a', detail: why });
  const cmp = (name: string, wl: WorkloadName, peer: ContenderId, min: number): Target => {
    const r = ratio(cell('corral-sid', wl)?.rate, cell(peer, wl)?.rate);
    if (r === null) return na(name, 'missing figure');
    return { name, verdict: r >= min ? 'PASS' : 'FAIL', detail: `${r.toFixed(3)}x (need >= ${min}x)` };
  };
  const out: Target[] = [];
  const hsName = 'corral: 0 lost/hung sessions in every handshake workload';
  const hsCells = (['corral-sid', 'corral-ip'] as const).flatMap((id) =>
    (['hs-polling', 'hs-default', 'hs-websocket'] as const).map((wl) => ({ id, wl, c: cell(id, wl) })),
  );
  if (!corral || hsCells.every((x) => !x.c || x.c.rate === null)) out.push(na(hsName, 'corral did not run'));
  else {
    const bad = hsCells.filter((x) => !x.c || x.c.failed + x.c.hung > 0 || x.c.errors.length > 0 || x.c.rate === null);
    // A failed upgrade is not a lost session (it stays on polling), but it means a mis-routed request.
    const upgradeErrors = hsCells.reduce((n, x) => n + (x.c?.extra.upgradeErrors ?? 0), 0);
    const ok = `${hsCells.reduce((n, x) => n + (x.c?.ok ?? 0), 0)} sessions, sid and ip, all three transports`;
    out.push({
      name: hsName,
      verdict: bad.length === 0 ? 'PASS' : 'FAIL',
      detail:
        (bad.length === 0 ? ok : bad.map((x) => `${x.id} ${x.wl}: ${x.c ? failures(x.c) : 'missing'}`).join('; ')) +
        (upgradeErrors > 0 ? `; ${upgradeErrors} WebSocket upgrade(s) failed` : ''),
    });
  }
  out.push(cmp('polling echo >= 1.5x @socket.io/sticky', 'echo-polling', 'sticky-io', 1.5));
  out.push(cmp('polling echo >= 1.0x sticky-session', 'echo-polling', 'sticky-session', 1.0));
  out.push(cmp('WebSocket echo >= 0.9x cluster round-robin', 'echo-websocket', 'cluster-rr', 0.9));
  out.push(cmp('plain HTTP keep-alive >= 0.9x cluster round-robin', 'http-keepalive', 'cluster-rr', 0.9));
  const nc = cmp('new-connection rate >= 0.9x cluster round-robin', 'http-newconn', 'cluster-rr', 0.9);
  out.push(nc);
  const us = cell('corral-sid', 'http-newconn')?.primaryUsPerConn ?? null;
  const usRr = cell('cluster-rr', 'http-newconn')?.primaryUsPerConn ?? null;
  out.push(
    us === null || usRr === null
      ? na('primary CPU per new connection <= cluster round-robin', 'missing figure')
      : { name: 'primary CPU per new connection <= cluster round-robin', verdict: us <= usRr ? 'PASS' : 'FAIL', detail: `${us.toFixed(1)} vs ${usRr.toFixed(1)} us/conn` },
  );
  const ho = cell('corral-sid', 'handoff-latency');
  out.push(
    !ho || ho.handoffP99Us === null
      ? na('handoff p99 < 1 ms at the fixed new-connection rate', 'missing figure')
      : {
          name: 'handoff p99 < 1 ms at the fixed new-connection rate',
          verdict: ho.handoffP99Us < 1000 && ho.failed + ho.hung === 0 ? 'PASS' : 'FAIL',
          detail: `p99 ${fmt(ho.handoffP99Us)} us, p50 ${fmt(ho.handoffP50Us)} us, primary ${fmt(ho.primaryPct)}% of a core` + (ho.failed + ho.hung > 0 ? `, ${failures(ho)}` : ''),
        },
  );
  const bal = cell('corral-sid', 'balance-one-ip');
  out.push(
    !bal || bal.balance === null
      ? na('balance max/min <= 1.2, one client IP, sid', 'missing figure')
      : { name: 'balance max/min <= 1.2, one client IP, sid', verdict: bal.balance <= 1.2 ? 'PASS' : 'FAIL', detail: `${bal.perWorker.join('/')} = ${fmt(bal.balance, 2)}` },
  );
  const fp = cell('corral-sid', 'footprint');
  const scale = footprintSessions < 100_000 ? ` (only ${footprintSessions} sessions: run without --quick for 100k)` : '';
  out.push(
    !fp || fp.rssGrowthKb === null
      ? na('primary RSS growth < 5 MB after 100k sessions', 'missing figure')
      : {
          name: 'primary RSS growth < 5 MB after 100k sessions',
          verdict: fp.rssGrowthKb < 5 * 1024 && fp.failed + fp.hung === 0 ? 'PASS' : 'FAIL',
          detail:
            `${mb(fp.rssGrowthKb)} MB (second half ${mb(fp.rssGrowthSecondHalfKb)} MB)` +
            `${fp.failed + fp.hung > 0 ? `, ${failures(fp)}` : ''}${scale}`,
        },
  );
  return out;
}

export function targetsTable(ts: readonly Target[]): string {
  return table(['target', 'verdict', 'measured'], ts.map((t) => [t.name, t.verdict, t.detail]));
}

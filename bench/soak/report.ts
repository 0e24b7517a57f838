/** The soak's summary (markdown) and memory plot (SVG). */
import { table } from '../report';
import { duration } from '../results';
import { lineChart, type Line, type Marker } from '../svg';
import type { SoakLoad, SoakLoadResult } from './protocol';
import { blame, slope } from './stats';

export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  pid: number;
  role: 'primary' | 'worker';
  rssKb: number | null;
}

export interface SoakEvent {
  kind: 'reload' | 'kill';
  t: number;
  tNs: string;
  ok: boolean | null;
  detail: string;
  durationS: number | null;
  pid?: number;
}

export interface SoakRecord {
  date: string;
  options: { durationMs: number; reloadEveryMs: number; killEveryMs: number };
  load: Omit<SoakLoad, 'url' | 'host' | 'port' | 'addresses'>;
  machine: string;
  wallS: number;
  samples: SoakSample[];
  events: SoakEvent[];
  result: SoakLoadResult | null;
  error: string | null;
  cpu: { machineBusyPct: number; primaryPct: number | null; loadPct: number | null; workersPct: number | null };
}

interface ProcLine {
  name: string;
  pid: number;
  points: { x: number; y: number }[];
}

function lines(r: SoakRecord): ProcLine[] {
  const byPid = new Map<number, ProcLine>();
  for (const s of r.samples) {
    if (s.rssKb === null) continue;
    let l = byPid.get(s.pid);
    if (!l) {
      l = { name: s.role === 'primary' ? `primary ${s.pid}` : `worker ${s.pid}`, pid: s.pid, points: [] };
      byPid.set(s.pid, l);
    }
    l.points.push({ x: s.t / 60, y: s.rssKb });
  }
  return [...byPid.values()];
}

/** Growth trend over the second half of the soak, KiB/min, for a line with 3+ samples there. */
function trend(l: ProcLine, halfMin: number): number | null {
  const s = slope(l.points.filter((p) => p.x >= halfMin));
  return s === null ? null : Math.round(s * 10) / 10;
}

export function renderSoak(r: SoakRecord, killsNs: readonly bigint[]): { md: string; svg: string } {
  const ls = lines(r);
  const halfMin = r.wallS / 60 / 2;
  const http = r.result?.http;
  const b = http ? blame(http.failures, killsNs) : null;
  const sio = r.result?.sio;
  const cause = (tNs: string): string => {
    const t = BigInt(tNs);
    // The most recent event within 30 s before the disconnect.
    const ev = [...r.events].reverse().find((e) => BigInt(e.tNs) <= t && t - BigInt(e.tNs) <= 30_000_000_000n);
    return ev ? ev.kind : 'no reload or kill in the 30 s before';
  };
  const byCause: Record<string, number> = {};
  for (const d of sio?.disconnects ?? []) {
    const k = `${cause(d.tNs)} (${d.transport})`;
    byCause[k] = (byCause[k] ?? 0) + 1;
  }
  const reloads = r.events.filter((e) => e.kind === 'reload');
  const kills = r.events.filter((e) => e.kind === 'kill');
  const rows = ls.map((l) => {
    const ys = l.points.map((p) => p.y);
    const tr = trend(l, halfMin);
    return [
      l.name,
      `${l.points[0]?.x.toFixed(1) ?? '-'}-${l.points[l.points.length - 1]?.x.toFixed(1) ?? '-'}`,
      String(l.points.length),
      ((ys[0] ?? 0) / 1024).toFixed(1),
      ((ys[ys.length - 1] ?? 0) / 1024).toFixed(1),
      (Math.max(...ys) / 1024).toFixed(1),
      tr === null ? '- (too few samples in the 2nd half)' : tr.toFixed(1),
    ];
  });
  const outsideWhy = b ? Object.entries(b.outside).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, v]) => `${k}: ${v}`).join(', ') : '';
  const md = [
    `## corral soak, ${r.date.slice(0, 16).replace('T', ' ')} UTC: ${duration(Math.round(r.wallS))}`,
    '',
    `Machine: ${r.machine}. corral --sticky sid, 2 workers, bench/app.js. Load: ${r.load.httpPerSec} plain HTTP GET/s on new connections (open loop), ` +
      `${r.load.polling} Socket.IO polling and ${r.load.websocket} WebSocket clients each sending an acked echo every ${r.load.echoMs} ms (a dropped session reconnects). ` +
      `Rolling reload every ${r.options.reloadEveryMs / 1000} s (\`corral reload --control\`), \`kill -9\` of one worker every ${r.options.killEveryMs / 1000} s. ` +
      `CPU over the soak: machine ${r.cpu.machineBusyPct}% busy, primary ${r.cpu.primaryPct ?? '-'}%, workers ${r.cpu.workersPct ?? '-'}% (summed), load generator ${r.cpu.loadPct ?? '-'}% of a core.`,
    '',
    '![RSS of the primary and every worker](soak.svg)',
    ...(r.error ? ['', `ERROR: ${r.error}`] : []),
    '',
    table(
      ['what', 'figure'],
      [
        ['HTTP requests', http ? `${http.attempted} attempted, ${http.ok} ok${http.shed > 0 ? `, ${http.shed} not sent (500 in flight)` : ''}` : '-'],
        ['HTTP failed, in flight at a kill (allowed)', b ? String(b.atKill) : '-'],
        ['HTTP failed otherwise', b ? `${b.outsideTotal + (http?.failuresNotListed ?? 0)}${outsideWhy ? ` (${outsideWhy})` : ''}${b.outsideJustAfterKill > 0 ? `; ${b.outsideJustAfterKill} started < 2 s after a kill` : ''}` : '-'],
        ['Socket.IO echoes acked / failed', sio ? `${sio.echoes} / ${sio.echoFailed}` : '-'],
        ['Socket.IO sessions dropped (then reconnected)', sio ? `${sio.disconnects.length}${Object.keys(byCause).length > 0 ? `: ${Object.entries(byCause).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}; ${sio.reconnectFailed} never came back` : '-'],
        ['reloads', `${reloads.length} (${reloads.filter((e) => e.ok === true).length} ok, ${reloads.filter((e) => e.ok === false).length} failed; ${reloads.map((e) => `${e.durationS?.toFixed(1) ?? '?'} s`).join(', ')})`],
        ['kills', `${kills.length} (${kills.map((e) => `${e.detail} at ${(e.t / 60).toFixed(1)} min`).join(', ')})`],
      ],
    ),
    '',
    `RSS per process (MB), sampled every 10 s; trend = least-squares slope over the second half of the soak (from ${halfMin.toFixed(1)} min), KiB/min:`,
    '',
    table(['process', 'alive (min)', 'samples', 'first', 'last', 'max', 'trend 2nd half KiB/min'], rows),
    '',
  ].join('\n');
  // The failures outside a kill's in-flight window, each placed against the last event before it.
  const outsideList = (http?.failures ?? [])
    .filter((f) => !killsNs.some((k) => BigInt(f.startNs) <= k && k <= BigInt(f.endNs)))
    .slice(0, 5)
    .map((f) => {
      const start = BigInt(f.startNs);
      const ev = [...r.events].reverse().find((e) => BigInt(e.tNs) <= start);
      const after = ev ? `${(Number(start - BigInt(ev.tNs)) / 1e6).toFixed(2)} ms after the ${ev.kind}${ev.pid ? ` of ${ev.pid}` : ''}` : 'before any event';
      return `- ${f.reason}, started ${after}, failed after ${(Number(BigInt(f.endNs) - start) / 1e6).toFixed(1)} ms`;
    });
  const mdAll = outsideList.length > 0 ? `${md}\nHTTP failures outside a kill's in-flight window (first 5):\n\n${outsideList.join('\n')}\n` : md;
  const markers: Marker[] = r.events.map((e) => ({ x: e.t / 60, label: e.kind === 'reload' ? 'reload' : `kill -9 ${e.pid ?? ''}`, colour: e.kind === 'reload' ? '#1f5fbf' : '#c02020' }));
  const svgLines: Line[] = ls.map((l) => ({ name: l.name, points: l.points.map((p) => ({ x: p.x, y: p.y / 1024 })) }));
  const svg = lineChart({
    title: `corral soak: RSS of the primary and each worker (${duration(Math.round(r.wallS))})`,
    subtitle: `${r.date.slice(0, 10)}, ${r.machine}; sampled every 10 s; dashed: rolling reloads (blue), kill -9 of a worker (red)`,
    xLabel: 'minutes since the load started',
    yLabel: 'RSS (MB)',
    lines: svgLines,
    markers,
  });
  return { md: mdAll, svg };
}

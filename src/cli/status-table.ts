import type { PrimaryStatus, WorkerStatus } from '../control/protocol';

/** `corral status` as a terminal table. */
export function statusTable(primary: PrimaryStatus, workers: readonly WorkerStatus[], handoffsPerSecond?: number): string {
  const slotPorts = primary.slotPorts > 0 ? `, slot ports from ${primary.slotPorts}` : '';
  const head = `corral: primary pid ${primary.pid}, ${primary.host}:${primary.port}${slotPorts}, host id ${primary.hostId}, sticky=${primary.sticky}, adapter ${primary.adapter}, up ${duration(primary.uptimeMs)}, app ${primary.app}${handoffsPerSecond === undefined ? '' : `, ${handoffsPerSecond} handoffs/s`}`;
  const rows = [
    ['slot', 'pid', 'state', 'uptime', 'restarts', 'conns', 'sessions', 'fwd', 'rss', 'cpu'],
    ...workers.map((w) => [
      String(w.slot),
      w.pid === null ? '-' : String(w.pid),
      w.state,
      w.pid === null ? '-' : duration(w.uptimeMs),
      String(w.restarts),
      String(w.connections),
      String(w.sessions),
      w.relayed > 0 ? `${w.forwarded}+${w.relayed}ws` : String(w.forwarded),
      w.rssBytes > 0 ? `${(w.rssBytes / 1024 / 1024).toFixed(1)} MB` : '-',
      `${w.cpuPercent}%`,
    ]),
  ];
  return [head, table(rows)].join('\n');
}

/** Rows of cells as aligned columns, the first row the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `42s`, `3m5s`, `2h10m`. */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

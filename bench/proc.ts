/** Reading processes and the machine from /proc (Linux only). */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times. */
export const CLK_TCK: number = (() => {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(v) && v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

interface Stat {
  ppid: number;
  /** utime + stime, in ticks. */
  ticks: number;
  comm: string;
}

function readStat(pid: number): Stat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const close = raw.lastIndexOf(')');
  const comm = raw.slice(raw.indexOf('(') + 1, close);
  const f = raw.slice(close + 2).split(' ');
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), comm };
}

/** CPU time used so far by a process, in ms (null if it is gone). */
export function cpuMs(pid: number): number | null {
  const s = readStat(pid);
  return s === null ? null : (s.ticks * 1000) / CLK_TCK;
}

/** Resident set size in kB (null if the process is gone). */
export function rssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The command line, shortened, for naming a process in a warning. */
function cmdline(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return s === '' ? null : s.length > 70 ? `${s.slice(0, 67)}...` : s;
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Every live descendant of `root` (children, grandchildren, ...). */
export function descendants(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (s === null) continue;
    const list = byParent.get(s.ppid) ?? [];
    list.push(pid);
    byParent.set(s.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  for (let guard = 0; todo.length > 0 && guard < 10_000; guard++) {
    const p = todo.pop() as number;
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

function cpuLine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU time every core has spent busy since boot, in ms. */
export function machineBusyMs(): number {
  return (cpuLine().busy * 1000) / CLK_TCK;
}

/** How busy the machine is, with the processes that use it. */
export interface MachineLoad {
  /** % of all cores busy during the sample. */
  busyPct: number;
  loadavg1: number;
  /** Processes above 10% of a core during the sample, other than `ignore`. */
  hogs: { pid: number; comm: string; pct: number }[];
}

/** Samples the whole machine for `ms` (bounded, one wait). */
export async function sampleMachine(ms: number, ignore: ReadonlySet<number>): Promise<MachineLoad> {
  const before = new Map<number, Stat>();
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (s) before.set(pid, s);
  }
  const c0 = cpuLine();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = cpuLine();
  const secs = (performance.now() - t0) / 1000;
  const hogs: MachineLoad['hogs'] = [];
  for (const [pid, b] of before) {
    if (ignore.has(pid)) continue;
    const a = readStat(pid);
    if (!a) continue;
    const pct = ((a.ticks - b.ticks) / CLK_TCK / secs) * 100;
    if (pct > 10) hogs.push({ pid, comm: cmdline(pid) ?? a.comm, pct: Math.round(pct) });
  }
  const dt = c1.total - c0.total;
  const loadavg1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  return {
    busyPct: dt > 0 ? Math.round(((c1.busy - c0.busy) / dt) * 100) : 0,
    loadavg1,
    hogs: hogs.sort((x, y) => y.pct - x.pct).slice(0, 5),
  };
}

/** Signal a process (or a group, with a negative pid) that may be gone already. */
export function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

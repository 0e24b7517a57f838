import { readFileSync } from 'node:fs';

/** The open-files limit of a process (Linux), or undefined where it cannot be read. */
export interface FdLimit {
  soft: number;
  hard: number;
}

/** Read a process's RLIMIT_NOFILE from /proc (Node has no getrlimit). */
export function readFdLimit(pid: number | 'self' = 'self'): FdLimit | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line === undefined ? null : /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
    if (m === null) return undefined;
    const n = (v: string): number => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

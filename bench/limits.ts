/** Open-file limits for benches that hold many sockets: what a process may raise itself to. */
import { execFileSync } from 'node:child_process';

/** The hard RLIMIT_NOFILE this bench's children inherit (raising it needs CAP_SYS_RESOURCE). */
export function hardFdLimit(): number {
  try {
    const v = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return v === 'unlimited' ? 1 << 20 : Number(v);
  } catch {
    return 1024;
  }
}

/**
 * A prefix for spawnTied that raises the soft limit to `want` (or to the hard limit, if
 * `want` is above it; never lowers it) and execs the command: same pid, as if started directly.
 */
export function ulimitPrefix(want: number): string[] {
  const n = Math.max(1024, Math.floor(want));
  const raise = `cur=$(ulimit -n); [ "$cur" = unlimited ] || [ "$cur" -ge ${n} ] || ulimit -n ${n} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`;
  return ['/bin/sh', '-c', `${raise}; exec "$0" "$@"`];
}

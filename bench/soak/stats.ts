/** The soak's arithmetic: growth trends and what a failure is blamed on. */
import type { HttpFailure } from './protocol';

/** Least-squares slope of y over x (null with fewer than 3 points or no spread in x). */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

export interface Blame {
  /** In flight at a kill instant: allowed (they may have been on the killed worker). */
  atKill: number;
  /** Every other failure, by reason. */
  outside: Record<string, number>;
  outsideTotal: number;
  /** Of those, started within 2 s after a kill (the primary may still have routed to the dead worker). */
  outsideJustAfterKill: number;
}

/** Splits HTTP failures into those in flight at one of `killsNs` and the rest. */
export function blame(failures: readonly HttpFailure[], killsNs: readonly bigint[]): Blame {
  const out: Blame = { atKill: 0, outside: {}, outsideTotal: 0, outsideJustAfterKill: 0 };
  for (const f of failures) {
    const start = BigInt(f.startNs);
    const end = BigInt(f.endNs);
    if (killsNs.some((k) => start <= k && k <= end)) {
      out.atKill++;
      continue;
    }
    out.outsideTotal++;
    out.outside[f.reason] = (out.outside[f.reason] ?? 0) + 1;
    if (killsNs.some((k) => start > k && start - k <= 2_000_000_000n)) out.outsideJustAfterKill++;
  }
  return out;
}

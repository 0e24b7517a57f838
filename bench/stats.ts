/** Small statistics helpers. */

/** Median of the finite numbers in `xs`, or null when there are none. */
export function median(xs: ReadonlyArray<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** Nearest-rank percentile (q in 0..1) of an ascending-sorted array. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** A growable latency sample buffer; cheap to fill from hot loops. */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;

  add(x: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = x;
  }

  get size(): number {
    return this.n;
  }

  /** p50 and p99, rounded to 0.01 ms. */
  summary(): { p50: number | null; p99: number | null } {
    const sorted = this.buf.slice(0, this.n).sort();
    const r = (x: number | null): number | null => (x === null ? null : Math.round(x * 100) / 100);
    return { p50: r(percentileSorted(sorted, 0.5)), p99: r(percentileSorted(sorted, 0.99)) };
  }
}

/** max/min of per-worker counts, given the number of workers expected (missing ones count 0). */
export function balanceRatio(pids: Record<string, number>, workers: number): number | null {
  const counts = Object.values(pids);
  while (counts.length < workers) counts.push(0);
  if (counts.length < 2) return null;
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  return min === 0 ? Infinity : max / min;
}

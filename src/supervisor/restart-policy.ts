import { Backoff } from './backoff';

/** The limits a slot's restarts live within (`--min-uptime`, `--max-restarts`, `--restart-window`). */
export interface RestartLimits {
  readonly minUptime: number;
  readonly maxRestarts: number;
  readonly restartWindow: number;
}

/** What to do after a worker died unexpectedly: start another after `delayMs`, or stop trying (a crash loop). */
export type RestartDecision = { readonly halt: false; readonly delayMs: number; readonly failures: number } | { readonly halt: true; readonly failures: number };

/**
 * When a slot's worker dies, whether and when to start another: exponential backoff (reset once
 * a worker stayed up `minUptime`), and a crash loop (more than `maxRestarts` failures within
 * `restartWindow`) halts the slot. Pure: time comes in as arguments, nothing is started here.
 */
export class RestartPolicy {
  readonly #limits: RestartLimits;
  readonly #backoff: Backoff;
  /** Times of the unexpected exits within the window. */
  #failures: number[] = [];
  /** Restarts in all, for `corral status`. */
  restarts = 0;

  constructor(limits: RestartLimits, backoff = new Backoff(100, 5000)) {
    this.#limits = limits;
    this.#backoff = backoff;
  }

  /** A worker started at `startedAt` died unexpectedly at `now`. */
  failed(now: number, startedAt: number): RestartDecision {
    if (now - startedAt >= this.#limits.minUptime) this.#backoff.reset();
    this.#failures = this.#failures.filter((t) => now - t < this.#limits.restartWindow);
    this.#failures.push(now);
    const failures = this.#failures.length;
    if (failures > this.#limits.maxRestarts) return { halt: true, failures };
    this.restarts++;
    return { halt: false, delayMs: this.#backoff.next(), failures };
  }

  /** A new worker of the slot became ready by a reload: the slot starts afresh. */
  clear(): void {
    this.#failures = [];
  }
}

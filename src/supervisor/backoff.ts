/**
 * Exponential respawn delay: `initialMs`, doubled per consecutive failure up to `maxMs`.
 * A worker that stayed up long enough resets it.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;

  constructor(initialMs = 100, maxMs = 10_000) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  /** Consecutive failures counted so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Count one more failure and return how long to wait before the next try. */
  next(): number {
    const delay = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
    this.#failures++;
    return delay;
  }

  reset(): void {
    this.#failures = 0;
  }
}

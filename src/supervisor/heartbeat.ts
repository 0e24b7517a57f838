import type { WorkerProcess } from './worker-process';

export interface HeartbeatOptions {
  /** How often every ready worker is pinged. */
  readonly everyMs: number;
  /** A worker silent this long is unresponsive. */
  readonly missAfterMs: number;
  /** A worker unresponsive this long is given up on (0: never). */
  readonly replaceAfterMs: number;
  /** The workers to watch (those that are ready or unresponsive are pinged). */
  readonly workers: () => Iterable<WorkerProcess>;
  /** A worker went unresponsive, or answered again. */
  readonly changed: (wp: WorkerProcess) => void;
  /** A worker stayed unresponsive past `replaceAfterMs` (told once per worker). */
  readonly stuck: (wp: WorkerProcess) => void;
  /** Every beat, after the pings: time for other deadlines (unanswered handoffs). */
  readonly tick: (now: number) => void;
}

/**
 * Tells `ready` from `unresponsive`: every worker that takes connections answers a ping from
 * its event loop, so a stopped process (SIGSTOP) or a blocked event loop goes silent while
 * its IPC channel stays open. One timer serves every worker.
 */
export class Heartbeat {
  readonly #options: HeartbeatOptions;
  readonly #stuck = new WeakSet<WorkerProcess>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#beat(), this.#options.everyMs);
    this.#timer.unref();
  }

  /** Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The worker answered a ping: it is responsive again, at once. */
  pong(wp: WorkerProcess): void {
    wp.lastPong = Date.now();
    if (wp.state !== 'unresponsive') return;
    wp.state = 'ready';
    wp.unresponsiveSince = 0;
    this.#options.changed(wp);
  }

  #beat(): void {
    const now = Date.now();
    const { missAfterMs, replaceAfterMs } = this.#options;
    for (const wp of this.#options.workers()) {
      if (wp.state !== 'ready' && wp.state !== 'unresponsive') continue;
      if (wp.lastPong === 0) wp.lastPong = now;
      if (wp.state === 'ready' && now - wp.lastPong > missAfterMs) {
        wp.state = 'unresponsive';
        wp.unresponsiveSince = now;
        this.#options.changed(wp);
      }
      if (wp.state === 'unresponsive' && replaceAfterMs > 0 && now - wp.unresponsiveSince > replaceAfterMs && !this.#stuck.has(wp)) {
        this.#stuck.add(wp);
        this.#options.stuck(wp);
      }
      wp.ping();
    }
    this.#options.tick(now);
  }
}

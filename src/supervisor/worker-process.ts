import type { Worker } from 'node:cluster';
import type { RawHandle } from '../internal/raw-handle';
import { HANDOFF_DEADLINE_MS, TAG, type ToWorker } from '../protocol/messages';
import { transition, type WorkerState } from '../supervisor/worker-state';

/** A connection handed to a worker and not yet answered. */
export interface Handoff {
  readonly handle: RawHandle;
  /** Bytes the primary read off the connection; they travel with the handle. */
  readonly bytes: Buffer;
  readonly line: string | undefined;
  readonly remoteAddress: string;
  /** Came back from a worker (a WebSocket upgrade for another slot): never relay again. */
  readonly relayed: boolean;
  /** Slot that must take it if it can (relays, slot ports), else -1. */
  readonly target: number;
  /**
   * Came in on the target's slot port: while that slot is coming back (respawn), wait for it
   * rather than go elsewhere; only at the wait deadline does any ready worker take it.
   */
  pinned: boolean;
  /** Workers that refused it already. */
  attempts: number;
  /** The workers that refused it (allocated on the first refusal only): never asked again. */
  refusedBy: WorkerProcess[] | undefined;
  /** When it started waiting for a ready worker (only while none is). */
  waitingSince: number;
  /** While sent and unanswered: the time past which the worker refuses it (wall-clock ms). */
  deadline: number;
}

/**
 * The primary's view of one worker process: its state, its load, the handoffs it has not
 * answered yet. Message handling lives in the primary; this class only keeps the books.
 */
export class WorkerProcess {
  readonly slot: number;
  readonly worker: Worker;
  readonly startedAt = Date.now();
  #state: WorkerState = 'starting';
  /** Unix socket of the worker's internal server, known once ready. */
  forwardPath = '';
  /** Last report from the worker: open connections, handoffs taken in all. */
  #connections = 0;
  #takenReported = 0;
  /** Handoffs accepted by this worker in all, as counted here. */
  #taken = 0;
  readonly #inflight = new Map<number, Handoff>();
  /** Latest resource figures reported by the worker. */
  rss = 0;
  cpuPercent = 0;
  /** Requests forwarded and upgrades relayed to other workers, in all (keep-alive connections carrying another's session). */
  forwarded = 0;
  relayed = 0;
  #cpuMicros = 0;
  #cpuAt = 0;
  /** The last few KiB the app wrote to stderr, for crash reports. */
  #stderrTail = '';
  /** Heartbeat: when the worker last answered a ping (0: not ready yet), and since when it has been unresponsive. */
  lastPong = 0;
  unresponsiveSince = 0;
  #pingSeq = 0;

  constructor(slot: number, worker: Worker) {
    this.slot = slot;
    this.worker = worker;
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  get name(): string {
    return `worker ${this.slot} (pid ${this.pid ?? '?'})`;
  }

  get state(): WorkerState {
    return this.#state;
  }

  set state(next: WorkerState) {
    this.#state = transition(this.#state, next, this.name);
  }

  /** Connections open, plus those handed off that the worker's last report did not count yet. */
  get load(): number {
    return this.#connections + this.#inflight.size + (this.#taken - this.#takenReported);
  }

  get connections(): number {
    return this.#connections;
  }

  stats(rss: number, cpuMicros: number, forwarded: number, relayed: number): void {
    this.forwarded = forwarded;
    this.relayed = relayed;
    const now = Date.now();
    if (this.#cpuAt > 0 && now > this.#cpuAt) this.cpuPercent = Math.round(((cpuMicros - this.#cpuMicros) / 1000 / (now - this.#cpuAt)) * 100);
    this.rss = rss;
    this.#cpuMicros = cpuMicros;
    this.#cpuAt = now;
  }

  /** Keep the end of what the app wrote to stderr. */
  stderr(chunk: Buffer): void {
    this.#stderrTail = (this.#stderrTail + chunk.toString()).slice(-4096);
  }

  /**
   * The app's last stderr lines (at most `lines`), for a crash report. Stack frames inside
   * Node and corral's bootstrap are left out, so the app's own error message fits.
   */
  lastStderr(lines = 12): string {
    return this.#stderrTail
      .trimEnd()
      .split('\n')
      .filter((line) => !/^\s+at .*(node:internal\/|worker\/bootstrap\.js)/.test(line))
      .slice(-lines)
      .join('\n');
  }

  report(connections: number, taken: number): void {
    this.#connections = connections;
    this.#takenReported = taken;
  }

  /** Send a connection; the answer arrives as a `handoff-reply` with the same `seq`. */
  send(seq: number, handoff: Handoff, onSendError: (seq: number) => void): void {
    this.#inflight.set(seq, handoff);
    handoff.deadline = Date.now() + HANDOFF_DEADLINE_MS;
    const message: ToWorker = {
      tag: TAG,
      type: 'handoff',
      seq,
      bytes: handoff.bytes.length > 0 ? handoff.bytes.toString('base64') : '',
      relayed: handoff.relayed,
      deadline: handoff.deadline,
    };
    this.worker.send(message, handoff.handle as never, (err: Error | null) => {
      if (err) onSendError(seq);
    });
  }

  /** The worker answered (or could not be reached): forget the handoff and return it. */
  settle(seq: number, accepted: boolean): Handoff | undefined {
    const handoff = this.#inflight.get(seq);
    if (handoff === undefined) return undefined;
    this.#inflight.delete(seq);
    if (accepted) this.#taken++;
    return handoff;
  }

  /**
   * Handoffs unanswered past their deadline (plus `graceMs` for the answer to travel), removed
   * from the books: the worker refuses them if it ever reads them, so they may go elsewhere.
   */
  expire(now: number, graceMs: number): Handoff[] {
    const late: Handoff[] = [];
    for (const [seq, handoff] of this.#inflight) {
      if (handoff.deadline + graceMs >= now) continue;
      this.#inflight.delete(seq);
      late.push(handoff);
    }
    return late;
  }

  /** Ask for a heartbeat answer (`pong`). */
  ping(): void {
    this.message({ tag: TAG, type: 'ping', seq: ++this.#pingSeq });
  }

  /** Every handoff still unanswered, removed from the books (the worker is gone). */
  takeUnanswered(): Handoff[] {
    const all = [...this.#inflight.values()];
    this.#inflight.clear();
    return all;
  }

  message(message: ToWorker): void {
    if (this.worker.isConnected()) this.worker.send(message);
  }
}

import type { RawHandle } from '../internal/raw-handle';
import { HANDOFF_DEADLINE_MS } from '../protocol/messages';
import { headerValue } from '../protocol/head';
import type { ProxySource } from '../protocol/proxy-header';
import type { Candidate, RoutedRequest } from '../routing';
import { targetOfLine } from '../routing/sid';
import type { WorkerProcess } from '../supervisor/worker-process';

/** A connection on its way to a worker: what was read of it, and what happened to it so far. */
export class Handoff implements RoutedRequest {
  readonly handle: RawHandle;
  /** Bytes the primary read off the connection (past any PROXY header); they travel with the handle. */
  readonly bytes: Buffer;
  /** The request line, when it was read. */
  readonly line: string | undefined;
  /** The request head as text, when it was read whole (cookie and header routing, `X-Forwarded-For`). */
  readonly head: string | undefined;
  /** The client named by a PROXY header (or carried by a relay): the worker shows it to the app. */
  readonly client: ProxySource | undefined;
  /** The address routing uses ('' when the strategy needs none). */
  readonly remoteAddress: string;
  /** Came back from a worker (a WebSocket upgrade for another slot): never relay again. */
  readonly relayed: boolean;
  /** Slot that must take it if it can (relays, slot ports), else -1. */
  readonly target: number;
  /**
   * Came in on the target's slot port: while that slot is coming back (respawn), wait for it
   * rather than go elsewhere; only at the wait deadline does any ready worker take it.
   */
  pinned = false;
  /** Workers that refused it already. */
  attempts = 0;
  /** The workers that refused it (allocated on the first refusal only): never asked again. */
  refusedBy: WorkerProcess[] | undefined = undefined;
  /** When it started waiting for a ready worker (only while none is). */
  waitingSince = 0;
  /** While sent and unanswered: the time past which the worker refuses it (wall-clock ms). */
  deadline = 0;
  /** When the primary accepted the connection (performance.now()). */
  readonly acceptedAt: number;
  #url: string | undefined | null = null;

  constructor(handle: RawHandle, bytes: Buffer, remoteAddress: string, options: { line?: string | undefined; head?: string | undefined; client?: ProxySource | undefined; target?: number; relayed?: boolean; acceptedAt?: number } = {}) {
    this.handle = handle;
    this.bytes = bytes;
    this.remoteAddress = remoteAddress;
    this.line = options.line;
    this.head = options.head;
    this.client = options.client;
    this.target = options.target ?? -1;
    this.relayed = options.relayed ?? false;
    this.acceptedAt = options.acceptedAt ?? performance.now();
  }

  /** The request target, cut from the request line on first use. */
  get url(): string | undefined {
    if (this.#url === null) this.#url = targetOfLine(this.line);
    return this.#url;
  }

  header(name: string): string | undefined {
    return this.head === undefined ? undefined : headerValue(this.head, name);
  }
}

/**
 * The primary's books of what it handed one worker: every handoff sent and not yet answered
 * (by `seq`), and how many the worker took. They give the worker's load for routing: open
 * connections it reported, plus those sent since that it has not counted yet.
 */
export class HandoffBooks implements Candidate {
  readonly worker: WorkerProcess;
  readonly #inflight = new Map<number, Handoff>();
  /** Handoffs the worker accepted in all, as counted here. */
  #taken = 0;

  constructor(worker: WorkerProcess) {
    this.worker = worker;
  }

  get slot(): number {
    return this.worker.slot;
  }

  get outgoing(): boolean {
    return this.worker.outgoing;
  }

  get load(): number {
    return this.worker.connections + this.#inflight.size + (this.#taken - this.worker.takenReported);
  }

  /** Send a connection; the answer arrives as a `handoff-reply` with the same `seq`. */
  send(seq: number, handoff: Handoff, onSendError: (seq: number) => void): void {
    this.#inflight.set(seq, handoff);
    handoff.deadline = Date.now() + HANDOFF_DEADLINE_MS;
    this.worker.sendHandoff(seq, handoff.handle, handoff.bytes, handoff.relayed, handoff.deadline, handoff.client, () => onSendError(seq));
  }

  /** The worker answered (or could not be reached): forget the handoff and return it. */
  settle(seq: number, accepted: boolean): Handoff | undefined {
    const handoff = this.#inflight.get(seq);
    if (handoff === undefined) return undefined;
    this.#inflight.delete(seq);
    if (accepted) this.#taken++;
    return handoff;
  }

  /** The `seq`s of handoffs unanswered past their deadline plus `graceMs` (left in the books). */
  overdue(now: number, graceMs: number): number[] {
    const late: number[] = [];
    for (const [seq, handoff] of this.#inflight) if (handoff.deadline + graceMs < now) late.push(seq);
    return late;
  }

  /** Take an overdue handoff out of the books, unless its answer has come meanwhile. */
  takeOverdue(seq: number): Handoff | undefined {
    const handoff = this.#inflight.get(seq);
    this.#inflight.delete(seq);
    return handoff;
  }

  /** Every handoff still unanswered, removed from the books (the worker is gone). */
  takeUnanswered(): Handoff[] {
    const all = [...this.#inflight.values()];
    this.#inflight.clear();
    return all;
  }
}

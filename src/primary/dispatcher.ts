import { isOpen, type RawHandle } from '../internal/raw-handle';
import { trace } from '../log';
import { STALLED_MESSAGE, STALLED_RETRY_AFTER_S } from '../protocol/messages';
import type { Candidate, Router } from '../routing';
import { answerAndClose, closeQuietly } from './answer';
import type { WorkerProcess } from '../supervisor/worker-process';
import { HandoffBooks, type Handoff } from './handoff';
import { LeastLoaded } from './least-loaded';

/** What the dispatcher asks of the supervisor about the workers. */
export interface WorkerPool {
  /** The workers that take connections now. */
  ready(): readonly WorkerProcess[];
  /** Whether a slot without a ready worker will have one again (respawn, reload): connections pinned to it wait. */
  comingBack(slot: number): boolean;
  /** Whether the worker of a slot is unresponsive: its sessions' requests are answered 503. */
  unresponsive(slot: number): boolean;
  /** Whether any worker is unresponsive (the hot path asks nothing more when none is). */
  readonly anyUnresponsive: boolean;
}

/** Told how each handoff ended (for metrics); absent, nothing is counted. */
export interface HandoffObserver {
  answered(handoff: Handoff, accepted: boolean): void;
  /** Unanswered by its deadline (`expired`), or its worker died first (`lost`). */
  unanswered(result: 'expired' | 'lost'): void;
}

/** How long a handoff's answer may take to travel back after its deadline before it counts as refused. */
const ANSWER_GRACE_MS = 1000;

/** Workers that may refuse one connection before the primary gives up on it. */
const MAX_ATTEMPTS = 4;
/** Connections kept waiting while no worker is ready (startup, every worker restarting). */
const MAX_WAITING = 4096;

/**
 * Routes connections to ready workers and sees every handoff answered: accepted (the primary
 * closes its copy of the handle), refused or lost with its worker (routed again).
 */
export class Dispatcher {
  readonly #router: Router;
  /** Who takes a connection the router leaves to anyone (a new session, visitor or key-less request). */
  readonly #leastLoaded = new LeastLoaded();
  readonly #pool: WorkerPool;
  readonly #waiting: Handoff[] = [];
  /** What each worker was handed and has not answered (its load for routing). */
  readonly #books = new WeakMap<WorkerProcess, HandoffBooks>();
  readonly #waitMs: number;
  #waitSweep: NodeJS.Timeout | undefined;
  #seq = 0;
  observer: HandoffObserver | undefined;
  /** Handoffs workers accepted, in all. */
  accepted = 0;

  /** `waitMs`: how long a connection may wait for a ready worker before it is answered 503. */
  constructor(router: Router, pool: WorkerPool, waitMs: number) {
    this.#router = router;
    this.#pool = pool;
    this.#waitMs = waitMs;
  }

  dispatch(handoff: Handoff): void {
    if (!isOpen(handoff.handle)) return;
    if (this.#pool.anyUnresponsive && this.#ofUnresponsive(handoff)) return;
    const worker = this.#choose(handoff, this.#pool.ready());
    if (worker === undefined) {
      this.#wait(handoff);
      return;
    }
    trace.router('%s -> slot %d', handoff.line ?? handoff.remoteAddress, worker.slot);
    this.#booksOf(worker).send(++this.#seq, handoff, (seq) => this.settle(worker, seq, false));
  }

  /** A worker answered a handoff (or sending it failed). */
  settle(worker: WorkerProcess, seq: number, accepted: boolean): void {
    const handoff = this.#books.get(worker)?.settle(seq, accepted);
    if (handoff === undefined) return;
    this.observer?.answered(handoff, accepted);
    if (accepted) {
      this.accepted++;
      closeQuietly(handoff.handle);
      return;
    }
    (handoff.refusedBy ??= []).push(worker);
    this.#retry(handoff);
  }

  /** A worker is gone: what it had not answered goes elsewhere. */
  orphaned(worker: WorkerProcess): void {
    const books = this.#books.get(worker);
    this.#books.delete(worker);
    for (const handoff of books?.takeUnanswered() ?? []) {
      this.observer?.unanswered('lost');
      this.#retry(handoff);
    }
  }

  /**
   * A worker lives on but its answers are lost (its handoff lane broke): what it had not
   * answered it may be serving, so the primary's copies are closed, never routed again.
   */
  abandon(worker: WorkerProcess): void {
    for (const handoff of this.#books.get(worker)?.takeUnanswered() ?? []) {
      this.observer?.unanswered('lost');
      closeQuietly(handoff.handle);
    }
  }

  /**
   * Handoffs these workers left unanswered past their deadline go elsewhere: a worker that
   * reads one late refuses it, so it is never served twice. Decided after this turn's I/O
   * (setImmediate runs after the poll phase): an acceptance the worker sent before its deadline
   * may sit unread in the channel while this timer runs, and must be read first.
   */
  expire(workers: readonly WorkerProcess[], now: number): void {
    const late: [HandoffBooks, number][] = [];
    for (const worker of workers) {
      const books = this.#books.get(worker);
      for (const seq of books?.overdue(now, ANSWER_GRACE_MS) ?? []) late.push([books!, seq]);
    }
    if (late.length === 0) return;
    setImmediate(() => {
      for (const [books, seq] of late) {
        const handoff = books.takeOverdue(seq);
        if (handoff === undefined) continue;
        trace.router('%s did not answer a handoff within its deadline; routing it elsewhere', books.worker.name);
        this.observer?.unanswered('expired');
        (handoff.refusedBy ??= []).push(books.worker);
        this.#retry(handoff);
      }
    });
  }

  /**
   * A request of a session whose worker is unresponsive: answered 503 at once, never parked or
   * sent to a stranger. Not a slot port's connection: unread, it cannot be answered, so it waits
   * for its slot like one whose worker restarts.
   */
  #ofUnresponsive(handoff: Handoff): boolean {
    if (handoff.pinned) return false;
    const slot = handoff.target >= 0 ? handoff.target : this.#router.namedSlot(handoff);
    if (slot < 0 || !this.#pool.unresponsive(slot)) return false;
    if (handoff.line !== undefined) {
      answerAndClose(handoff.handle, 503, 'Service Unavailable', STALLED_MESSAGE, `Retry-After: ${STALLED_RETRY_AFTER_S}\r\n`);
    } else {
      closeQuietly(handoff.handle);
    }
    return true;
  }

  /** Some worker became ready: serve the connections that waited for one. */
  flush(): void {
    const waiting = this.#waiting.splice(0);
    for (const handoff of waiting) this.dispatch(handoff);
    this.#disarm();
  }

  /** Close everything still waiting. Idempotent. */
  close(): void {
    for (const handoff of this.#waiting.splice(0)) this.#refuse(handoff);
    this.#disarm();
  }

  /** The worker for this connection now, or undefined to wait for one. */
  #choose(handoff: Handoff, ready: readonly WorkerProcess[]): WorkerProcess | undefined {
    const refused = handoff.refusedBy;
    const workers = refused === undefined ? ready : ready.filter((w) => !refused.includes(w));
    if (handoff.target >= 0) {
      const target = workers.find((w) => w.slot === handoff.target);
      if (target !== undefined) return target;
      if (handoff.pinned && this.#pool.comingBack(handoff.target)) return undefined;
    }
    if (workers.length === 0) return undefined;
    const candidates: readonly Candidate[] = workers.map((w) => this.#booksOf(w));
    const routed = this.#router.route(handoff, candidates);
    const slot = routed >= 0 ? routed : this.#leastLoaded.pick(candidates);
    return workers.find((w) => w.slot === slot) ?? workers[0]!;
  }

  #booksOf(worker: WorkerProcess): HandoffBooks {
    let books = this.#books.get(worker);
    if (books === undefined) {
      books = new HandoffBooks(worker);
      this.#books.set(worker, books);
    }
    return books;
  }

  #retry(handoff: Handoff): void {
    handoff.attempts++;
    if (handoff.attempts >= MAX_ATTEMPTS) {
      trace.primary('giving up on a connection refused by %d workers', handoff.attempts);
      this.#refuse(handoff);
      return;
    }
    this.dispatch(handoff);
  }

  #wait(handoff: Handoff): void {
    if (this.#waiting.length >= MAX_WAITING) {
      this.#refuse(handoff);
      return;
    }
    this.#waiting.push(handoff);
    // Kept across re-dispatches: a connection waits at most one deadline in all.
    if (handoff.waitingSince === 0) handoff.waitingSince = Date.now();
    if (this.#waitSweep === undefined) {
      this.#waitSweep = setInterval(() => this.#expire(), Math.max(10, Math.min(1000, this.#waitMs / 4)));
      this.#waitSweep.unref();
    }
  }

  #expire(): void {
    const limit = Date.now() - this.#waitMs;
    let kept = 0;
    const late: Handoff[] = [];
    for (const handoff of this.#waiting) {
      if (handoff.waitingSince <= limit) late.push(handoff);
      else this.#waiting[kept++] = handoff;
    }
    this.#waiting.length = kept;
    for (const handoff of late) {
      // Pinned to a slot that did not come back in time: any ready worker serves it.
      if (handoff.pinned && isOpen(handoff.handle) && this.#pool.ready().length > 0) {
        handoff.pinned = false;
        this.dispatch(handoff);
      } else {
        this.#refuse(handoff);
      }
    }
    if (this.#waiting.length === 0) this.#disarm();
  }

  #disarm(): void {
    if (this.#waitSweep !== undefined) clearInterval(this.#waitSweep);
    this.#waitSweep = undefined;
  }

  #refuse(handoff: Handoff): void {
    if (!isOpen(handoff.handle)) return;
    if (handoff.line !== undefined) {
      answerAndClose(handoff.handle as RawHandle, 503, 'Service Unavailable', 'corral: no worker is ready to take this request; try again shortly.');
    } else {
      closeQuietly(handoff.handle);
    }
  }
}

import { TAG, type AdapterBroadcast, type RecoverySession, type ToPrimary, type ToWorker } from '../protocol/messages';

/** How long a worker waits for the primary's answer about recovery before going on without it. */
export const RECOVERY_DEADLINE_MS = 2000;

type Reply = Extract<ToWorker, { type: 'recovery-offset' | 'recovery-restored' }>;
type Restored = NonNullable<Extract<ToWorker, { type: 'recovery-restored' }>['session']>;

interface Pending {
  readonly at: number;
  readonly settle: (reply: Reply | undefined) => void;
}

/**
 * The worker's side of connection-state recovery: what the recovering adapter tells the
 * primary (broadcasts to log, each socket's rooms, sessions that left) and asks it (offsets,
 * sessions to restore), every question answered by `seq` or given up at a deadline.
 */
export class RecoveryLink {
  readonly #send: (message: ToPrimary) => void;
  readonly #warn: (message: string) => void;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #warnedData = false;
  /** Per namespace: close a socket whose client came back elsewhere. */
  readonly #releasers = new Map<string, (sid: string) => void>();

  constructor(send: (message: ToPrimary) => void, warn: (message: string) => void) {
    this.#send = send;
    this.#warn = warn;
  }

  configure(nsp: string, ttlMs: number, release: (sid: string) => void): void {
    this.#releasers.set(nsp, release);
    this.#send({ tag: TAG, type: 'recovery-config', nsp, ttlMs });
  }

  /** The primary asks to close a socket whose client reconnected before this worker noticed it left. */
  release(message: Extract<ToWorker, { type: 'recovery-release' }>): void {
    this.#releasers.get(message.nsp)?.(message.sid);
    this.#send({ tag: TAG, type: 'recovery-released', seq: message.seq });
  }

  /**
   * Log a broadcast with the primary, which relays it to the other workers. `then` runs with
   * its offset (undefined: no answer in time) in the same tick as the answer arrives, so that
   * local deliveries keep the order of everything else on the channel.
   */
  broadcast(message: AdapterBroadcast, then: (offset: string | undefined) => void): void {
    this.#ask({ tag: TAG, type: 'recovery-broadcast', seq: 0, message }, (reply) => then(reply?.type === 'recovery-offset' ? reply.offset : undefined));
  }

  socket(op: 'open' | 'join' | 'leave' | 'close', nsp: string, sid: string, rooms: string[], pid?: string): void {
    this.#send(pid === undefined ? { tag: TAG, type: 'recovery-socket', op, nsp, sid, rooms } : { tag: TAG, type: 'recovery-socket', op, nsp, sid, pid, rooms });
  }

  /** Keep a session that left; `socket.data` that JSON cannot carry is dropped, once said why. */
  persist(nsp: string, session: RecoverySession): void {
    try {
      this.#send({ tag: TAG, type: 'recovery-persist', nsp, session });
    } catch (err) {
      if (!this.#warnedData) {
        this.#warnedData = true;
        this.#warn(`socket.data of a socket in namespace "${nsp}" cannot be sent as JSON (${(err as Error).message}); its session is kept without it (recovered sockets get {}). Keep socket.data to plain JSON values.`);
      }
      this.#send({ tag: TAG, type: 'recovery-persist', nsp, session: { ...session, data: {} } });
    }
  }

  /** The session `pid` and what it missed since `offset`, or null (unknown, expired, or no answer in time); `then` runs in the answer's tick. */
  restore(nsp: string, pid: string, offset: string, then: (session: Restored | null) => void): void {
    this.#ask({ tag: TAG, type: 'recovery-restore', seq: 0, nsp, pid, offset }, (reply) => then(reply?.type === 'recovery-restored' ? reply.session : null));
  }

  /** The primary's answer to one of our questions. */
  settle(reply: Reply): void {
    const pending = this.#pending.get(reply.seq);
    if (pending === undefined) return;
    this.#pending.delete(reply.seq);
    pending.settle(reply);
  }

  #ask(message: Extract<ToPrimary, { seq: number }>, settle: (reply: Reply | undefined) => void): void {
    const seq = ++this.#seq;
    message.seq = seq;
    this.#pending.set(seq, { at: Date.now(), settle });
    this.#send(message);
    // One sweep for all questions (answers come in order, so the oldest is first), not a timer each.
    this.#timer ??= setInterval(() => this.#expire(), RECOVERY_DEADLINE_MS / 4).unref();
  }

  #expire(): void {
    const limit = Date.now() - RECOVERY_DEADLINE_MS;
    for (const [seq, pending] of this.#pending) {
      if (pending.at > limit) return;
      this.#pending.delete(seq);
      pending.settle(undefined);
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

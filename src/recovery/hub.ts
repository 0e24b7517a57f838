import { log } from '../log';
import { ADAPTER_SOURCE, TAG, type AdapterRelay, type ToPrimary } from '../protocol/messages';
import type { WorkerProcess } from '../supervisor/worker-process';
import { RecoveryStore, type RecoveryStats } from './store';

type RecoveryMessage = Extract<ToPrimary, { type: `recovery-${string}` }>;

/** How often expired sessions and packets are dropped. */
const SWEEP_MS = 1000;
/** How long a restore waits for the worker still holding the old socket to close it (the worker gives up on the restore at 2 s). */
const RELEASE_DEADLINE_MS = 1000;

type Restore = Extract<ToPrimary, { type: 'recovery-restore' }>;

/**
 * The primary's side of connection-state recovery (`src/recovery/adapter.ts` is the workers'):
 * logs each replayed broadcast and relays it, with its offset, to the other workers in the same
 * step, so that every worker's channel carries the host's packets in the log's order; keeps the
 * mirror of every socket's rooms and the sessions that left; answers restores.
 */
export class RecoveryHub {
  readonly #store: RecoveryStore;
  readonly #workers: () => readonly WorkerProcess[];
  #sweep: NodeJS.Timeout | undefined;
  /** Restores waiting for the worker that still holds the old socket to let it go. */
  readonly #releasing = new Map<number, { readonly from: WorkerProcess; readonly restore: Restore; readonly timer: NodeJS.Timeout }>();
  #releaseSeq = 0;

  constructor(maxBytes: number, workers: () => readonly WorkerProcess[]) {
    this.#store = new RecoveryStore(maxBytes);
    this.#workers = workers;
  }

  static handles(message: ToPrimary): message is RecoveryMessage {
    return message.type.startsWith('recovery-');
  }

  /** Whether any namespace of the app uses recovery. */
  get active(): boolean {
    return this.#sweep !== undefined;
  }

  onMessage(from: WorkerProcess, message: RecoveryMessage): void {
    const owner = from.pid ?? -1;
    switch (message.type) {
      case 'recovery-config':
        this.#store.configure(message.nsp, message.ttlMs);
        this.#sweep ??= setInterval(() => this.#store.sweep(), SWEEP_MS).unref();
        return;
      case 'recovery-broadcast': {
        const { packet, opts } = message.message.data;
        // A copy: the message itself is relayed as the cluster adapter sent it (each worker appends the offset).
        const offset = this.#store.append(message.message.nsp, [...packet.data], opts.rooms, opts.except);
        const relay: AdapterRelay = { ...message.message, source: ADAPTER_SOURCE, offset };
        for (const worker of this.#workers()) if (worker !== from && worker.channel.connected()) worker.relayAdapter(relay);
        from.message({ tag: TAG, type: 'recovery-offset', seq: message.seq, offset });
        return;
      }
      case 'recovery-socket':
        if (message.op === 'open') this.#store.opened(owner, message.nsp, message.sid, message.pid ?? '', message.rooms);
        else if (message.op === 'join') this.#store.joined(owner, message.nsp, message.sid, message.rooms);
        else if (message.op === 'leave') this.#store.left(owner, message.nsp, message.sid, message.rooms[0] ?? '');
        else this.#store.closed(owner, message.nsp, message.sid);
        return;
      case 'recovery-persist':
        this.#store.persist(message.nsp, message.session);
        return;
      case 'recovery-restore': {
        // The client came back before its old socket was noticed dead (a cut connection waits for a ping timeout): that worker closes it first.
        const held = this.#store.holderOf(message.nsp, message.pid);
        const holder = held === undefined ? undefined : this.#live(held.owner);
        if (held === undefined || holder === undefined) return this.#answer(from, message);
        const seq = ++this.#releaseSeq;
        const timer = setTimeout(() => this.#released(seq), RELEASE_DEADLINE_MS);
        this.#releasing.set(seq, { from, restore: message, timer });
        holder.message({ tag: TAG, type: 'recovery-release', seq, nsp: message.nsp, sid: held.sid });
        return;
      }
      case 'recovery-released':
        this.#released(message.seq);
        return;
    }
  }

  /** The worker of this pid, while messages still reach it. */
  #live(pid: number): WorkerProcess | undefined {
    return this.#workers().find((w) => w.pid === pid && w.channel.connected());
  }

  #released(seq: number): void {
    const pending = this.#releasing.get(seq);
    if (pending === undefined) return;
    this.#releasing.delete(seq);
    clearTimeout(pending.timer);
    this.#answer(pending.from, pending.restore);
  }

  #answer(from: WorkerProcess, restore: Restore): void {
    const session = this.#store.restore(restore.nsp, restore.pid, restore.offset, from.pid ?? -1, (pid) => this.#live(pid) !== undefined);
    from.message({ tag: TAG, type: 'recovery-restored', seq: restore.seq, session });
  }

  /** A worker is gone: the sockets it did not hand over become sessions, restorable elsewhere. */
  gone(wp: WorkerProcess): void {
    if (!this.active || wp.pid === undefined) return;
    const kept = this.#store.ownerGone(wp.pid);
    if (kept > 0) log.info('recovery.kept', `${wp.name} left ${kept} Socket.IO session(s) without handing them over; their rooms and missed packets are kept for recovery`, { slot: wp.slot, pid: wp.pid, sessions: kept });
  }

  stats(): RecoveryStats {
    return this.#store.stats();
  }

  close(): void {
    for (const pending of this.#releasing.values()) clearTimeout(pending.timer);
    this.#releasing.clear();
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

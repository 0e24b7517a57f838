import { NodeClusterAdapter } from '@socket.io/cluster-adapter';
import { Adapter, MessageType, type BroadcastOptions, type ClusterMessage } from 'socket.io-adapter';
import type { AdapterBroadcast } from '../protocol/messages';
import type { RecoveryLink } from './link';
import { DEFAULT_TTL_MS } from './store';

/** What `io.adapter()` takes: a factory (or class) of one adapter per namespace. */
export type AdapterFactory = (nsp: unknown) => unknown;

/** The part of a socket.io `Socket` used here; `packet` is how socket.io itself writes a restored socket's missed packets. */
interface SocketLike {
  readonly pid?: string;
  /** The Engine.IO connection; closing it (discarding what it holds) closes the socket as a recoverable "forced close". */
  readonly conn: { close(discard: boolean): void };
  packet(packet: { type: number; data: unknown[] }): void;
}

interface NamespaceLike {
  readonly name: string;
  readonly sockets: ReadonlyMap<string, SocketLike>;
  readonly server: { readonly opts: { readonly connectionStateRecovery?: { readonly maxDisconnectionDuration?: number } } };
}

type Session = Parameters<NodeClusterAdapter['persistSession']>[0];
type Restored = Awaited<ReturnType<NodeClusterAdapter['restoreSession']>>;
interface Packet {
  type?: number;
  id?: number;
  data: unknown[];
}

/** The in-memory adapter's delivery to this worker's own sockets (what the cluster adapter does once a broadcast is published). */
const deliverLocally = Adapter.prototype.broadcast;

/**
 * `@socket.io/cluster-adapter` with connection-state recovery, for one host: the cluster
 * adapter's own logic (broadcasts, rooms, acks, fetchSockets across workers) unchanged, with
 * the parts socket.io asks of a recovering adapter kept by the primary, where no worker's
 * death takes them:
 * - each broadcast socket.io replays is logged by the primary before anyone gets it; every
 *   worker delivers in the order its channel brings offsets and relays, which is the log's, so
 *   each client's offsets follow the host's one log;
 * - each socket's rooms are mirrored as they change, so the sessions of a worker killed without
 *   a word are restored too (with `socket.data` as last handed over);
 * - sessions that leave are persisted to the primary, and restored from it on any worker.
 *
 * Order is the whole game: Node runs every queued IPC message before any promise continues,
 * so nothing here waits on a promise between an answer and a delivery, and deliveries are held
 * while a restored socket is being set up (socket.io does that over a few promise steps): a
 * packet logged after its restore reaches it live, not never.
 */
export function recoveringClusterAdapter(link: RecoveryLink): AdapterFactory {
  class RecoveringClusterAdapter extends NodeClusterAdapter {
    /** Order of arrival on the channel, of restore answers and deliveries alike. */
    #arrival = 0;
    /** Deliveries held while restored sockets join; each is told which restored sockets to skip. */
    readonly #held: { readonly at: number; readonly run: (skip: readonly string[]) => void }[] = [];
    /** Restored sockets not connected yet, and every socket restored while deliveries were held (sid: its answer's arrival). */
    readonly #restoring = new Set<string>();
    readonly #restoredAt = new Map<string, number>();
    /** Missed packets of restored sockets, written once their CONNECT is (see restoreSession). */
    readonly #missed = new Map<string, unknown[][]>();

    constructor(nsp: NamespaceLike) {
      super(nsp);
      // A client that came back before its old connection was noticed dead: close it, so its state is persisted and handed over.
      link.configure(nsp.name, nsp.server.opts.connectionStateRecovery?.maxDisconnectionDuration ?? DEFAULT_TTL_MS, (sid) => nsp.sockets.get(sid)?.conn.close(true));
    }

    override async broadcast(packet: Packet, opts: BroadcastOptions): Promise<void> {
      if (opts.flags?.local === true || !replayed(packet, opts)) return super.broadcast(packet, opts);
      const message: AdapterBroadcast = {
        uid: this.uid,
        nsp: this.nsp.name,
        type: MessageType.BROADCAST,
        data: { packet: packet as AdapterBroadcast['data']['packet'], opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], ...(opts.flags === undefined ? {} : { flags: opts.flags as Record<string, unknown> }) } },
      };
      link.broadcast(message, (offset) => {
        // No answer in time: delivered here without an offset, as the cluster adapter does when publishing fails.
        if (offset === undefined) return this.#deliver(() => deliverLocally.call(this, packet, opts));
        packet.data.push(offset);
        this.#deliver((skip) => deliverLocally.call(this, packet, skip.length === 0 ? opts : { ...opts, except: new Set([...(opts.except ?? []), ...skip]) }));
      });
    }

    /** A logged broadcast arrives with its offset on the message (the cluster adapter's listener passes none). */
    override onMessage(message: ClusterMessage, offset?: string): void {
      const logged = offset ?? (message as { offset?: string }).offset;
      this.#deliver((skip) => {
        if (skip.length > 0 && logged !== undefined && message.type === MessageType.BROADCAST) message.data.opts.except.push(...skip);
        super.onMessage(message, logged);
      });
    }

    override addAll(id: string, rooms: Set<string>): void {
      void super.addAll(id, rooms);
      // Joining its own room is how a socket connects: then the mirror gets all its rooms.
      const socket = rooms.has(id) ? (this.nsp as NamespaceLike).sockets.get(id) : undefined;
      if (socket?.pid !== undefined) link.socket('open', this.nsp.name, id, [...(this.sids.get(id) ?? rooms)], socket.pid);
      else link.socket('join', this.nsp.name, id, [...rooms]);
      // Connected now, and its CONNECT written in this same step: its missed packets follow, then what was held.
      if (socket !== undefined && (this.#missed.has(id) || this.#restoring.has(id))) process.nextTick(() => this.#connected(id));
    }

    override del(id: string, room: string): void {
      void super.del(id, room);
      link.socket('leave', this.nsp.name, id, [room]);
    }

    override delAll(id: string): void {
      this.#missed.delete(id);
      const had = this.sids.has(id);
      super.delAll(id);
      if (had) link.socket('close', this.nsp.name, id, []);
    }

    override persistSession(session: Session): void {
      link.persist(this.nsp.name, { sid: session.sid, pid: session.pid, rooms: [...session.rooms], data: session.data });
    }

    /**
     * socket.io writes a restored socket's missed packets before its CONNECT; a client whose
     * connection drops between the two keeps them buffered and gets them again from its next
     * restore (socket.io-client never clears that buffer). A drain that closes the worker
     * right then is not rare, so here the missed packets are written after the CONNECT.
     */
    override restoreSession(pid: string, offset: string): Promise<Restored> {
      return new Promise((resolve) => {
        link.restore(this.nsp.name, pid, offset, (session) => {
          if (session === null) return resolve(null as unknown as Restored);
          this.#restoring.add(session.sid);
          this.#restoredAt.set(session.sid, ++this.#arrival);
          this.#missed.set(session.sid, session.missedPackets);
          // Should socket.io not connect it at once (async middlewares, a closed transport), hold the others no longer than this turn.
          setImmediate(() => this.#restored(session.sid));
          resolve({ ...session, missedPackets: [] } as Restored);
        });
      });
    }

    #connected(sid: string): void {
      const missed = this.#missed.get(sid);
      this.#missed.delete(sid);
      const socket = (this.nsp as NamespaceLike).sockets.get(sid);
      if (missed !== undefined && socket !== undefined) for (const data of missed) socket.packet({ type: 2, data });
      this.#restored(sid);
    }

    /**
     * Deliver now, or, while a restored socket is being set up, once it is. A held logged packet
     * skips the sockets whose restore was answered after it arrived: their missed packets,
     * computed by the primary after it logged this one, hold it already.
     */
    #deliver(run: (skip: readonly string[]) => void): void {
      if (this.#restoring.size > 0) this.#held.push({ at: ++this.#arrival, run });
      else run([]);
    }

    #restored(sid: string): void {
      if (!this.#restoring.delete(sid) || this.#restoring.size > 0) return;
      const restored = [...this.#restoredAt];
      this.#restoredAt.clear();
      for (const held of this.#held.splice(0)) held.run(restored.filter(([, at]) => at > held.at).map(([id]) => id));
    }
  }
  return RecoveringClusterAdapter as unknown as AdapterFactory;
}

/** The broadcasts socket.io's recovery replays: events without an ack, not volatile (its `addOffsetIfNecessary`). */
function replayed(packet: Packet, opts: BroadcastOptions): boolean {
  return packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined;
}

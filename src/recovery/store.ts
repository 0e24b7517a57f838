import { randomBytes } from 'node:crypto';
import type { RecoverySession } from '../protocol/messages';
import { jsonLength, PacketLog } from './packet-log';

/** What socket.io persists of a socket that left, and restores on a recovered one (as it crosses the channel). */
export type SessionState = Readonly<RecoverySession>;

/** A restored session: its state and the packets it missed, oldest first. */
export interface RestoredSession extends SessionState {
  readonly missedPackets: unknown[][];
}

/** A socket connected now somewhere on this host, as far as its rooms go (mirrored from its worker). */
interface OpenSocket {
  readonly sid: string;
  readonly pid: string;
  /** The worker (its pid) holding it. */
  readonly owner: number;
  readonly rooms: Set<string>;
  /** `socket.data` as it was last handed over (restored), for a worker that dies without a word. */
  data: unknown;
}

interface StoredSession extends SessionState {
  readonly expiresAt: number;
  readonly bytes: number;
}

interface Namespace {
  ttlMs: number;
  readonly log: PacketLog;
  readonly open: Map<string, OpenSocket>;
  readonly openByPid: Map<string, OpenSocket>;
  /** Disconnected sessions by pid, in the order they left (so, of expiry). */
  readonly sessions: Map<string, StoredSession>;
}

/** Figures for status and metrics. */
export interface RecoveryStats {
  /** Estimated memory of the logs and stored sessions, against `maxBytes`. */
  readonly bytes: number;
  readonly maxBytes: number;
  readonly packets: number;
  readonly sessions: number;
  /** Sockets connected now whose rooms are mirrored. */
  readonly open: number;
  /** Sessions dropped before their time, and packets trimmed before their age, to stay under the cap. */
  readonly evicted: number;
}

const SESSION_OVERHEAD = 400;
/** socket.io's default `maxDisconnectionDuration`. */
export const DEFAULT_TTL_MS = 2 * 60 * 1000;

/**
 * Connection-state recovery for one host, kept by the primary so that no worker's death takes
 * it: per namespace, the packet log, the sessions that left (until `maxDisconnectionDuration`),
 * and the rooms of every socket connected now, so that the sessions of a worker killed without
 * a word can be restored too. Memory is capped (`maxBytes`): past it the oldest packets go
 * first, then the oldest sessions.
 */
export class RecoveryStore {
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #namespaces = new Map<string, Namespace>();
  #sessionBytes = 0;
  #evicted = 0;

  constructor(maxBytes: number, now: () => number = Date.now) {
    this.#maxBytes = maxBytes;
    this.#now = now;
  }

  /** A worker's namespace uses recovery with this `maxDisconnectionDuration`. */
  configure(nsp: string, ttlMs: number): void {
    this.#ns(nsp).ttlMs = ttlMs;
  }

  /** Log a broadcast; returns its offset (also appended to `data`). */
  append(nsp: string, data: unknown[], rooms: readonly string[], except: readonly string[]): string {
    const ns = this.#ns(nsp);
    const offset = ns.log.append(data, rooms, except, this.#now());
    this.#fit();
    return offset;
  }

  /** A socket connected (or re-joined its own room): these are all its rooms now. */
  opened(owner: number, nsp: string, sid: string, pid: string, rooms: readonly string[]): void {
    const ns = this.#ns(nsp);
    const before = ns.open.get(sid);
    const socket: OpenSocket = { sid, pid, owner, rooms: new Set(rooms), data: before?.data ?? {} };
    if (before !== undefined && before.pid !== pid) ns.openByPid.delete(before.pid);
    ns.open.set(sid, socket);
    ns.openByPid.set(pid, socket);
  }

  /** Rooms `owner`'s socket joined (updates from any other worker are stale and ignored). */
  joined(owner: number, nsp: string, sid: string, rooms: readonly string[]): void {
    const socket = this.#namespaces.get(nsp)?.open.get(sid);
    if (socket?.owner === owner) for (const room of rooms) socket.rooms.add(room);
  }

  left(owner: number, nsp: string, sid: string, room: string): void {
    const socket = this.#namespaces.get(nsp)?.open.get(sid);
    if (socket?.owner === owner) socket.rooms.delete(room);
  }

  /** `owner`'s socket is gone for good (or its state was just persisted). */
  closed(owner: number, nsp: string, sid: string): void {
    const ns = this.#namespaces.get(nsp);
    if (ns !== undefined && ns.open.get(sid)?.owner === owner) close(ns, sid);
  }

  /** A socket left in a way its client recovers from: keep its state until the namespace's TTL. */
  persist(nsp: string, session: SessionState): void {
    const ns = this.#ns(nsp);
    close(ns, session.sid);
    this.#store(ns, session);
    this.#fit();
  }

  /**
   * The worker `owner` died without persisting its sockets: each becomes a stored session with
   * the rooms mirrored so far. Returns how many.
   */
  ownerGone(owner: number): number {
    let count = 0;
    for (const ns of this.#namespaces.values()) {
      for (const socket of [...ns.open.values()]) {
        if (socket.owner !== owner) continue;
        close(ns, socket.sid);
        this.#store(ns, { sid: socket.sid, pid: socket.pid, rooms: [...socket.rooms], data: socket.data });
        count++;
      }
    }
    this.#fit();
    return count;
  }

  /** The worker holding `pid`'s socket, when it is shown as connected, and the socket's sid. */
  holderOf(nsp: string, pid: string): { owner: number; sid: string } | undefined {
    const open = this.#namespaces.get(nsp)?.openByPid.get(pid);
    return open === undefined ? undefined : { owner: open.owner, sid: open.sid };
  }

  /**
   * Restore the session `pid` from `offset`, once: null when it is unknown, expired, still
   * connected elsewhere (its old socket has not noticed it left), or its missed packets are
   * no longer all known. The restored socket is mirrored as `requester`'s. `ownerAlive` tells whether a socket still shown as connected is held
   * by a live worker (a dead one's sockets become sessions first).
   */
  restore(nspName: string, pid: string, offset: string, requester: number, ownerAlive: (owner: number) => boolean): RestoredSession | null {
    const ns = this.#namespaces.get(nspName);
    if (ns === undefined) return null;
    const open = ns.openByPid.get(pid);
    if (open !== undefined && !ownerAlive(open.owner)) this.ownerGone(open.owner);
    const session = ns.sessions.get(pid);
    if (session === undefined) return null;
    this.#drop(ns, session);
    if (session.expiresAt <= this.#now()) return null;
    const missedPackets = ns.log.missedSince(offset, session.rooms);
    if (missedPackets === null) return null;
    // The socket lives again on the requester: mirror it from now, with the data it was given.
    this.opened(requester, nspName, session.sid, session.pid, session.rooms);
    (ns.open.get(session.sid) as OpenSocket).data = session.data;
    return { sid: session.sid, pid: session.pid, rooms: session.rooms, data: session.data, missedPackets };
  }

  /** Drop expired sessions and packets older than any session can ask for. */
  sweep(): void {
    const now = this.#now();
    for (const ns of this.#namespaces.values()) {
      for (const session of ns.sessions.values()) {
        if (session.expiresAt > now) break;
        this.#drop(ns, session);
      }
      ns.log.trimBefore(now - ns.ttlMs);
    }
  }

  stats(): RecoveryStats {
    let packets = 0;
    let sessions = 0;
    let open = 0;
    for (const ns of this.#namespaces.values()) {
      packets += ns.log.size;
      sessions += ns.sessions.size;
      open += ns.open.size;
    }
    return { bytes: this.#bytes(), maxBytes: this.#maxBytes, packets, sessions, open, evicted: this.#evicted };
  }

  #bytes(): number {
    let bytes = this.#sessionBytes;
    for (const ns of this.#namespaces.values()) bytes += ns.log.bytes;
    return bytes;
  }

  #ns(name: string): Namespace {
    let ns = this.#namespaces.get(name);
    if (ns === undefined) {
      ns = { ttlMs: DEFAULT_TTL_MS, log: new PacketLog(randomBytes(6).toString('base64url')), open: new Map(), openByPid: new Map(), sessions: new Map() };
      this.#namespaces.set(name, ns);
    }
    return ns;
  }

  #store(ns: Namespace, session: SessionState): void {
    const previous = ns.sessions.get(session.pid);
    if (previous !== undefined) this.#drop(ns, previous);
    let bytes = SESSION_OVERHEAD + session.sid.length + session.pid.length + jsonLength(session.data);
    for (const room of session.rooms) bytes += room.length + 16;
    ns.sessions.set(session.pid, { sid: session.sid, pid: session.pid, rooms: session.rooms, data: session.data, expiresAt: this.#now() + ns.ttlMs, bytes });
    this.#sessionBytes += bytes;
  }

  #drop(ns: Namespace, session: StoredSession): void {
    if (ns.sessions.get(session.pid) !== session) return;
    ns.sessions.delete(session.pid);
    this.#sessionBytes -= session.bytes;
  }

  /** Past the cap: the oldest packets go first (across namespaces), then the oldest sessions. */
  #fit(): void {
    let bytes = this.#bytes();
    while (bytes > this.#maxBytes) {
      let oldest: Namespace | undefined;
      for (const ns of this.#namespaces.values()) {
        const at = ns.log.oldestAt;
        if (at !== undefined && (oldest === undefined || at < (oldest.log.oldestAt as number))) oldest = ns;
      }
      if (oldest !== undefined) {
        bytes -= oldest.log.trimOldest();
      } else {
        const ns = [...this.#namespaces.values()].find((n) => n.sessions.size > 0);
        const first = ns?.sessions.values().next().value;
        if (ns === undefined || first === undefined) return;
        bytes -= first.bytes;
        this.#drop(ns, first);
      }
      this.#evicted++;
    }
  }
}

function close(ns: Namespace, sid: string): void {
  const socket = ns.open.get(sid);
  if (socket === undefined) return;
  ns.open.delete(sid);
  if (ns.openByPid.get(socket.pid) === socket) ns.openByPid.delete(socket.pid);
}

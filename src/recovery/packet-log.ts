/**
 * The packets of one Socket.IO namespace that a reconnecting client may have missed: every
 * broadcast event that connection-state recovery replays (no ack, not volatile), in the order
 * the primary relayed them, each with its offset (a sequence number; the string the client
 * echoes back is `<epoch>:<seq>`).
 *
 * The oldest packets are trimmed (by age, and by the store's memory cap), but what they were
 * addressed to is remembered: a quiet client whose last offset is older than the log's first
 * packet still recovers when nothing trimmed since was for one of its rooms.
 */

/** One logged packet: what socket.io-adapter's `SessionAwareAdapter` keeps, plus its size. */
export interface LoggedPacket {
  readonly seq: number;
  /** The event's arguments, its offset appended (as the live clients got it). */
  readonly data: unknown[];
  /** Rooms it went to (none: the whole namespace) and rooms it skipped. */
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly at: number;
  /** Estimated memory: its JSON length plus fixed overhead. */
  readonly bytes: number;
}

/** Fixed cost of one entry beyond its JSON: its object, arrays and offset string, as measured on V8 (heap within ~10% of the estimate for payloads of 0 to 2000 bytes). */
const ENTRY_OVERHEAD = 400;
/** Fixed cost of one remembered room of trimmed packets (a Map entry). */
const HORIZON_OVERHEAD = 48;
/** Rooms remembered for trimmed packets, at most; past that the oldest are forgotten (and the offsets before them no longer recover). */
export const MAX_HORIZON_ROOMS = 100_000;

export class PacketLog {
  /** Part of every offset of this log: offsets of another namespace, or of an earlier primary, never match. */
  readonly epoch: string;
  #entries: LoggedPacket[] = [];
  #head = 0;
  #nextSeq = 1;
  #bytes = 0;
  /** The newest trimmed packet that went to the whole namespace. */
  #trimmedAll = 0;
  /** Per room, the newest trimmed packet that went to it (oldest first: Map order). */
  readonly #trimmedRooms = new Map<string, number>();
  /** Offsets below this may have missed a trimmed packet whose rooms were forgotten. */
  #uncertainBelow = 0;

  constructor(epoch: string) {
    this.epoch = epoch;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** When the oldest packet was logged, or undefined when the log is empty. */
  get oldestAt(): number | undefined {
    return this.#entries[this.#head]?.at;
  }

  /** Log a packet; returns its offset, which the caller appends to `data` for the live clients. */
  append(data: unknown[], rooms: readonly string[], except: readonly string[], at: number): string {
    const seq = this.#nextSeq++;
    const offset = `${this.epoch}:${seq}`;
    data.push(offset);
    let bytes = ENTRY_OVERHEAD + jsonLength(data);
    // A room is charged what remembering it costs once trimmed, so trimming always frees memory.
    for (const room of rooms) bytes += room.length + HORIZON_OVERHEAD;
    for (const room of except) bytes += room.length + HORIZON_OVERHEAD;
    this.#entries.push({ seq, data, rooms, except, at, bytes });
    this.#bytes += bytes;
    return offset;
  }

  /** Drop the oldest packet, remembering where it went; returns the bytes freed (0 when empty). */
  trimOldest(): number {
    const entry = this.#entries[this.#head];
    if (entry === undefined) return 0;
    this.#entries[this.#head++] = undefined as unknown as LoggedPacket;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    let freed = entry.bytes;
    if (entry.rooms.length === 0) this.#trimmedAll = entry.seq;
    for (const room of entry.rooms) {
      if (!this.#trimmedRooms.delete(room)) freed -= room.length + HORIZON_OVERHEAD;
      this.#trimmedRooms.set(room, entry.seq);
    }
    while (this.#trimmedRooms.size > MAX_HORIZON_ROOMS) {
      const [room, seq] = this.#trimmedRooms.entries().next().value as [string, number];
      this.#trimmedRooms.delete(room);
      this.#uncertainBelow = Math.max(this.#uncertainBelow, seq);
      freed += room.length + HORIZON_OVERHEAD;
    }
    this.#bytes -= freed;
    return freed;
  }

  /** Trim every packet logged before `threshold`; returns the bytes freed. */
  trimBefore(threshold: number): number {
    let freed = 0;
    while ((this.#entries[this.#head]?.at ?? Infinity) < threshold) freed += this.trimOldest();
    return freed;
  }

  /**
   * The packets after `offset` that a session in `rooms` would have received, oldest first;
   * null when that cannot be known: an offset this log never gave, or one older than a trimmed
   * packet that was for one of these rooms.
   */
  missedSince(offset: string, rooms: readonly string[]): unknown[][] | null {
    const seq = this.#seqOf(offset);
    if (seq === undefined) return null;
    const first = this.#entries[this.#head]?.seq ?? this.#nextSeq;
    const joined = new Set(rooms);
    if (seq < first - 1) {
      if (seq < this.#uncertainBelow || seq < this.#trimmedAll) return null;
      for (const room of rooms) if ((this.#trimmedRooms.get(room) ?? 0) > seq) return null;
    }
    const missed: unknown[][] = [];
    for (let i = this.#head + Math.max(0, seq + 1 - first); i < this.#entries.length; i++) {
      const entry = this.#entries[i] as LoggedPacket;
      if (reaches(entry, joined)) missed.push(entry.data);
    }
    return missed;
  }

  #seqOf(offset: string): number | undefined {
    const colon = offset.indexOf(':');
    if (colon < 0 || offset.slice(0, colon) !== this.epoch) return undefined;
    const digits = offset.slice(colon + 1);
    if (!/^[0-9]{1,15}$/.test(digits)) return undefined;
    const seq = Number(digits);
    return seq >= 1 && seq < this.#nextSeq ? seq : undefined;
  }
}

/** socket.io-adapter's rule: to the whole namespace or one of the session's rooms, and none of its rooms excepted. */
function reaches(entry: LoggedPacket, rooms: ReadonlySet<string>): boolean {
  if (entry.rooms.length > 0 && !entry.rooms.some((room) => rooms.has(room))) return false;
  return !entry.except.some((room) => rooms.has(room));
}

/** The length of `value` as JSON, the form it crossed the IPC channel in (0 when it cannot be serialized). */
export function jsonLength(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 0;
  }
}

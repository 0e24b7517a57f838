import { sidOfTarget, slotOfSid } from '../protocol/sid';
import { LeastLoaded } from './least-loaded';
import type { Candidate, Connection, Router } from './types';

/**
 * Engine.IO session routing: the slot is written in the session id itself, so no table is
 * kept. No sid (a handshake, or a non-Socket.IO request) or a sid naming no live slot
 * (forged, of another host, or its worker is gone): least-loaded, and Engine.IO answers an unknown sid itself.
 */
export class SidRouter implements Router {
  readonly name = 'sid';
  readonly readsHead = true;
  readonly #fallback = new LeastLoaded();
  /** Engine.IO paths announced by workers (normalized, trailing slash). */
  readonly #paths: string[];
  /** `<host id>.`: a sid of another host names no slot here. */
  readonly #hostPrefix: string;

  constructor(hostId: string, paths: readonly string[]) {
    this.#hostPrefix = `${hostId}.`;
    this.#paths = [...paths];
  }

  /** Read `sid` on this Engine.IO path too (a worker's `attach(io)` announced it). */
  addPath(path: string): void {
    if (!this.#paths.includes(path)) this.#paths.push(path);
  }

  get paths(): readonly string[] {
    return this.#paths;
  }

  stickySlot(connection: Connection): number {
    return slotOfRequestLine(connection.requestLine, this.#paths, this.#hostPrefix);
  }

  pick(connection: Connection, candidates: readonly Candidate[]): number {
    const slot = slotOfRequestLine(connection.requestLine, this.#paths, this.#hostPrefix);
    if (slot >= 0 && candidates.some((c) => c.slot === slot)) return slot;
    return this.#fallback.pick(candidates);
  }
}

/** Slot named by the `sid` of a request line (`GET /socket.io/?sid=h1.1.x HTTP/1.1`) issued on this host, or -1. */
export function slotOfRequestLine(line: string | undefined, paths: readonly string[], hostPrefix: string): number {
  if (line === undefined) return -1;
  const start = line.indexOf(' ') + 1;
  if (start === 0) return -1;
  let end = line.indexOf(' ', start);
  if (end < 0) end = line.length;
  const sid = sidOfTarget(line.slice(start, end), paths);
  return sid === undefined ? -1 : slotOfSid(sid, hostPrefix);
}

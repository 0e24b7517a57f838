import { isLive } from './hash';
import type { EngineSessions } from './sessions';
import type { Candidate, RoutedRequest, Router } from './types';

/**
 * Engine.IO session routing: the slot is written in the session id itself, so no table is
 * kept. No sid (a handshake, or a non-Socket.IO request) or a sid naming no live slot
 * (forged, of another host, or its worker is gone): any worker, and Engine.IO answers an
 * unknown sid itself.
 */
export class SidRouter implements Router {
  readonly name = 'sid';
  readonly reads = 'line';
  readonly perRequest = true;
  readonly #sessions: EngineSessions;

  constructor(sessions: EngineSessions) {
    this.#sessions = sessions;
  }

  route(request: RoutedRequest, live: readonly Candidate[]): number {
    const slot = this.#sessions.slotOf(request.url);
    return isLive(slot, live) ? slot : -1;
  }

  namedSlot(request: RoutedRequest): number {
    return this.#sessions.slotOf(request.url);
  }
}

/** The request target of a request line (`GET /x?y HTTP/1.1` gives `/x?y`), or undefined. */
export function targetOfLine(line: string | undefined): string | undefined {
  if (line === undefined) return undefined;
  const start = line.indexOf(' ') + 1;
  if (start === 0) return undefined;
  let end = line.indexOf(' ', start);
  if (end < 0) end = line.length;
  return line.slice(start, end);
}

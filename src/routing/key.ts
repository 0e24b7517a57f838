import { queryValue } from '../protocol/head';
import { isLive, rendezvous } from './hash';
import type { EngineSessions } from './sessions';
import type { Candidate, RoutedRequest, Router } from './types';

/**
 * Key routing (`--sticky query:room`, `--sticky header:x-tenant`): requests with the same key
 * value go to the same worker, by rendezvous hashing over the live slots, so a worker leaving
 * moves only its own keys. Requests without the key go least-loaded; an Engine.IO request with
 * a valid sid follows its session (a Socket.IO client's `query: { room }` rides on every
 * request of the session, so its handshake already went where the room is).
 */
export class KeyRouter implements Router {
  readonly name: 'query' | 'header';
  readonly reads: 'line' | 'head';
  readonly perRequest = true;
  readonly #key: string;
  readonly #sessions: EngineSessions;

  /** `key`: the query parameter's name, or the header's in lower case. */
  constructor(kind: 'query' | 'header', key: string, sessions: EngineSessions) {
    this.name = kind;
    this.reads = kind === 'query' ? 'line' : 'head';
    this.#key = key;
    this.#sessions = sessions;
  }

  route(request: RoutedRequest, live: readonly Candidate[]): number {
    const sid = this.#sessions.slotOf(request.url);
    if (isLive(sid, live)) return sid;
    const key = this.keyOf(request);
    return key === undefined ? -1 : rendezvous(key, live);
  }

  namedSlot(request: RoutedRequest): number {
    return this.#sessions.slotOf(request.url);
  }

  /** The key value of a request, or undefined (absent or empty). */
  keyOf(request: RoutedRequest): string | undefined {
    if (this.name === 'query') return request.url === undefined ? undefined : queryValue(request.url, this.#key);
    const value = request.header(this.#key);
    return value === undefined || value === '' ? undefined : value;
  }
}

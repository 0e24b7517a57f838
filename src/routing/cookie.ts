import { isLive } from './hash';
import type { EngineSessions } from './sessions';
import type { SlotCookies } from './slot-cookie';
import type { Candidate, RoutedRequest, Router } from './types';

/**
 * Visitor routing for apps with in-memory state (`express-session`'s MemoryStore, carts): a
 * request carrying corral's cookie goes to the slot it names while that slot is live; a new
 * visitor (or one whose slot is gone) goes to the least-loaded worker, whose response sets
 * the cookie. An Engine.IO request with a valid sid follows its session.
 */
export class CookieRouter implements Router {
  readonly name = 'cookie';
  readonly reads = 'head';
  readonly perRequest = true;
  readonly #sessions: EngineSessions;
  readonly cookies: SlotCookies;

  constructor(sessions: EngineSessions, cookies: SlotCookies) {
    this.#sessions = sessions;
    this.cookies = cookies;
  }

  route(request: RoutedRequest, live: readonly Candidate[]): number {
    const sid = this.#sessions.slotOf(request.url);
    if (isLive(sid, live)) return sid;
    const slot = this.cookies.slotOf(request.header('cookie'));
    return isLive(slot, live) ? slot : -1;
  }

  namedSlot(request: RoutedRequest): number {
    const sid = this.#sessions.slotOf(request.url);
    return sid >= 0 ? sid : this.cookies.slotOf(request.header('cookie'));
  }
}

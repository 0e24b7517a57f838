import { CookieRouter } from './cookie';
import { IpRouter } from './ip';
import { KeyRouter } from './key';
import { NoneRouter } from './none';
import { DEFAULT_ENGINE_PATH, EngineSessions } from './sessions';
import { SidRouter } from './sid';
import { SlotCookies } from './slot-cookie';
import { TrustList } from './trust';
import type { Router, Strategy } from './types';

export type { Candidate, Reads, RoutedRequest, Router, Strategy } from './types';
export { STRATEGIES } from './types';
export { CookieRouter, DEFAULT_ENGINE_PATH, EngineSessions, IpRouter, KeyRouter, NoneRouter, SidRouter, SlotCookies, TrustList };

/** What decides a router, the same in the primary and in every worker. */
export interface RouterSettings {
  readonly sticky: Strategy;
  /** The query parameter or header (lower case) of `query` and `header`; '' otherwise. */
  readonly stickyKey: string;
  readonly hostId: string;
  /** `--trust-proxy`, normalized. */
  readonly trustProxy: readonly string[];
  /** The public port (names the cookie). */
  readonly port: number;
  /** The cookie MAC key (hex) the primary drew; '' unless `cookie`. */
  readonly cookieSecret: string;
}

/** The router for these settings; `sessions` gathers the Engine.IO paths announced since. */
export function createRouter(settings: RouterSettings, sessions: EngineSessions): Router {
  switch (settings.sticky) {
    case 'sid':
      return new SidRouter(sessions);
    case 'ip':
      return new IpRouter(new TrustList(settings.trustProxy), sessions);
    case 'cookie':
      return new CookieRouter(sessions, new SlotCookies(settings.hostId, settings.cookieSecret, settings.port));
    case 'query':
    case 'header':
      return new KeyRouter(settings.sticky, settings.stickyKey, sessions);
    case 'none':
      return new NoneRouter();
  }
}

/** `--sticky` as the user wrote it (`query:room`). */
export function stickyLabel(settings: Pick<RouterSettings, 'sticky' | 'stickyKey'>): string {
  return settings.stickyKey === '' ? settings.sticky : `${settings.sticky}:${settings.stickyKey}`;
}

/** A new session starts on a fresh Engine.IO path list with Socket.IO's default path. */
export function defaultSessions(hostId: string): EngineSessions {
  return new EngineSessions(hostId, [DEFAULT_ENGINE_PATH]);
}

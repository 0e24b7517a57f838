import { isLive, rendezvous } from './hash';
import type { EngineSessions } from './sessions';
import { forwardedClient, type TrustList } from './trust';
import type { Candidate, RoutedRequest, Router } from './types';

/**
 * Client-address routing by rendezvous hashing (see {@link rendezvous}). The address is the
 * connection's (or its PROXY header's); from a trusted proxy (`--trust-proxy`), the client it
 * names in `X-Forwarded-For`. Without a trusted proxy it needs no byte of the request, so the
 * connection is handed off untouched and its requests are never routed one by one. Where a
 * request is read (behind a trusted proxy), a valid Engine.IO sid wins: the session is where it
 * is, even if the live slots changed since its handshake was hashed.
 */
export class IpRouter implements Router {
  readonly name = 'ip';
  readonly reads = 'nothing';
  readonly perRequest: boolean;
  readonly #trust: TrustList | undefined;
  readonly #sessions: EngineSessions | undefined;

  /** `trust`: the proxies whose `X-Forwarded-For` counts (none: the header is ignored). */
  constructor(trust?: TrustList, sessions?: EngineSessions) {
    this.#trust = trust !== undefined && trust.size > 0 ? trust : undefined;
    this.#sessions = sessions;
    // Behind a proxy one connection carries requests of many clients.
    this.perRequest = this.#trust !== undefined;
  }

  /** Whether the head of a connection from `address` must be read (it is a trusted proxy's). */
  readsHeadFrom(address: string): boolean {
    return this.#trust?.trusts(address) ?? false;
  }

  route(request: RoutedRequest, live: readonly Candidate[]): number {
    const sid = this.#sessions?.slotOf(request.url) ?? -1;
    if (isLive(sid, live)) return sid;
    return rendezvous(this.clientOf(request), live);
  }

  namedSlot(request: RoutedRequest): number {
    return this.#sessions?.slotOf(request.url) ?? -1;
  }

  /** The address this request is routed by. */
  clientOf(request: RoutedRequest): string {
    const trust = this.#trust;
    return trust === undefined ? request.remoteAddress : forwardedClient(request.remoteAddress, request.header('x-forwarded-for'), trust);
  }
}

import { rendezvous } from './hash';
import { forwardedClient, type TrustList } from './trust';
import type { Candidate, RoutedRequest, Router } from './types';

/**
 * Client-address routing by rendezvous hashing (see {@link rendezvous}). The address is the
 * connection's (or its PROXY header's); from a trusted proxy (`--trust-proxy`), the client it
 * names in `X-Forwarded-For`. Without a trusted proxy it needs no byte of the request, so the
 * connection is handed off untouched and its requests are never routed one by one.
 */
export class IpRouter implements Router {
  readonly name = 'ip';
  readonly reads = 'nothing';
  readonly perRequest: boolean;
  readonly #trust: TrustList | undefined;

  /** `trust`: the proxies whose `X-Forwarded-For` counts (none: the header is ignored). */
  constructor(trust?: TrustList) {
    this.#trust = trust !== undefined && trust.size > 0 ? trust : undefined;
    // Behind a proxy one connection carries requests of many clients.
    this.perRequest = this.#trust !== undefined;
  }

  /** Whether the head of a connection from `address` must be read (it is a trusted proxy's). */
  readsHeadFrom(address: string): boolean {
    return this.#trust?.trusts(address) ?? false;
  }

  route(request: RoutedRequest, live: readonly Candidate[]): number {
    return rendezvous(this.clientOf(request), live);
  }

  namedSlot(): number {
    return -1;
  }

  /** The address this request is routed by. */
  clientOf(request: RoutedRequest): string {
    const trust = this.#trust;
    return trust === undefined ? request.remoteAddress : forwardedClient(request.remoteAddress, request.header('x-forwarded-for'), trust);
  }
}

import type { IncomingMessage } from 'node:http';
import type { SlotInfo } from '../protocol/messages';
import type { Candidate, RoutedRequest, Router } from '../routing';

/** Who must serve a request, as a worker sees it. */
export type Owner =
  /** This worker: the app serves it here (its own session, visitor or key, or nobody's). */
  | { readonly kind: 'here' }
  /** Another live worker's: forward it over that worker's internal socket. */
  | { readonly kind: 'peer'; readonly slot: number; readonly path: string }
  /** A session (or visitor) of a worker that is unresponsive now: tell the client to retry. */
  | { readonly kind: 'stalled'; readonly slot: number };

const HERE: Owner = { kind: 'here' };

/** A parsed request as the router sees it: the same questions the primary asks of raw bytes. */
class IncomingRequest implements RoutedRequest {
  readonly #req: IncomingMessage;

  constructor(req: IncomingMessage) {
    this.#req = req;
  }

  get remoteAddress(): string {
    return this.#req.socket.remoteAddress ?? '';
  }

  get url(): string | undefined {
    return this.#req.url;
  }

  header(name: string): string | undefined {
    const value = this.#req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/**
 * A worker's view of which worker each request belongs to. A keep-alive connection (a
 * browser's, a balancer's pool) is routed by its first request only, so the worker asks the
 * same router the primary uses about every request, over the live slots the primary
 * announced, and passes on those that belong elsewhere.
 */
export class RequestOwners {
  readonly #slot: number;
  readonly #router: Router;
  readonly #peers = new Map<number, string>();
  #live: Candidate[] = [];
  #stalled: ReadonlySet<number> = new Set();

  constructor(slot: number, router: Router) {
    this.#slot = slot;
    this.#router = router;
  }

  /** The primary's word on the live slots and the unresponsive ones. */
  update(slots: readonly SlotInfo[], unresponsive: readonly number[]): void {
    this.#peers.clear();
    for (const s of slots) if (s.slot !== this.#slot) this.#peers.set(s.slot, s.forwardPath);
    this.#live = slots.map((s) => ({ slot: s.slot, load: 0 }));
    this.#stalled = new Set(unresponsive);
  }

  /** Whether `slot` has a ready worker, this one included. */
  isLive(slot: number): boolean {
    return slot === this.#slot || this.#peers.has(slot);
  }

  /** Who serves this request. A sid naming a dead slot, and anything nobody owns, is served here. */
  ownerOf(req: IncomingMessage): Owner {
    if (!this.#router.perRequest) return HERE;
    const request = new IncomingRequest(req);
    const slot = this.#live.length === 0 ? -1 : this.#router.route(request, this.#live);
    if (slot === this.#slot) return HERE;
    const path = slot < 0 ? undefined : this.#peers.get(slot);
    if (path !== undefined) return { kind: 'peer', slot, path };
    const named = this.#router.namedSlot(request);
    return named >= 0 && named !== this.#slot && this.#stalled.has(named) ? { kind: 'stalled', slot: named } : HERE;
  }
}

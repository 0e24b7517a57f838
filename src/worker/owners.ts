import type { SlotInfo } from '../protocol/messages';
import { sidOfTarget, slotOfSid } from '../protocol/sid';

/** Who must serve a request, as a worker sees it. */
export type Owner =
  /** This worker: the app serves it here (no sid, our own session, or nobody's). */
  | { readonly kind: 'here' }
  /** Another live worker's session: forward it over that worker's internal socket. */
  | { readonly kind: 'peer'; readonly slot: number; readonly path: string }
  /** A session of a worker that is unresponsive now: tell the client to retry. */
  | { readonly kind: 'stalled'; readonly slot: number };

const HERE: Owner = { kind: 'here' };

/**
 * A worker's map of sessions to workers: the sid names its host and slot, the primary tells
 * which slots are live (and where their internal servers listen) and which are unresponsive.
 * A sid of another host, of a dead slot or of no slot is served here, and Engine.IO answers it.
 */
export class SessionOwners {
  readonly #slot: number;
  /** `<host id>.`: a sid of another host is nobody's here. */
  readonly #hostPrefix: string;
  /** Engine.IO paths of this worker's attached Socket.IO servers: where `sid` means a session. */
  readonly #enginePaths: string[] = [];
  readonly #peers = new Map<number, string>();
  #stalled: ReadonlySet<number> = new Set();

  constructor(slot: number, hostId: string) {
    this.#slot = slot;
    this.#hostPrefix = `${hostId}.`;
  }

  /** Read `sid` on this Engine.IO path too. Returns false when it was known already. */
  addEnginePath(path: string): boolean {
    if (this.#enginePaths.includes(path)) return false;
    this.#enginePaths.push(path);
    return true;
  }

  /** The primary's word on the live slots and the unresponsive ones. */
  update(slots: readonly SlotInfo[], unresponsive: readonly number[]): void {
    this.#peers.clear();
    for (const s of slots) if (s.slot !== this.#slot) this.#peers.set(s.slot, s.forwardPath);
    this.#stalled = new Set(unresponsive);
  }

  /** Who serves the request for this URL. Costs nothing but a length check in a worker with no Socket.IO. */
  ownerOf(url: string | undefined): Owner {
    if (this.#enginePaths.length === 0 || url === undefined) return HERE;
    const sid = sidOfTarget(url, this.#enginePaths);
    if (sid === undefined) return HERE;
    const slot = slotOfSid(sid, this.#hostPrefix);
    if (slot < 0 || slot === this.#slot) return HERE;
    const path = this.#peers.get(slot);
    if (path !== undefined) return { kind: 'peer', slot, path };
    return this.#stalled.has(slot) ? { kind: 'stalled', slot } : HERE;
  }
}

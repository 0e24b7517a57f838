import type { Candidate, Connection, Router } from './types';

/**
 * Client-address routing by rendezvous (highest-random-weight) hashing: every (address, slot)
 * pair gets a pseudo-random weight and the heaviest live slot wins. A slot leaving or joining
 * moves only the clients whose winner it was; a respawned worker gets its clients back.
 * Needs no byte of the request, so the connection is handed off untouched.
 */
export class IpRouter implements Router {
  readonly name = 'ip';
  readonly readsHead = false;

  pick(connection: Connection, candidates: readonly Candidate[]): number {
    const base = fnv1a(connection.remoteAddress);
    let best = candidates[0]!.slot;
    let bestWeight = -1;
    for (const c of candidates) {
      const w = mix32(base ^ Math.imul(c.slot + 1, 0x9e3779b1));
      if (w > bestWeight) {
        bestWeight = w;
        best = c.slot;
      }
    }
    return best;
  }
}

/** FNV-1a over the UTF-16 code units of a short string (an IP address). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads every input bit over the whole word. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

import type { Candidate } from './types';

/**
 * Rendezvous (highest-random-weight) hashing: every (key, slot) pair gets a pseudo-random
 * weight and the heaviest live slot wins. A slot leaving or joining moves only the keys whose
 * winner it was; a respawned worker gets its keys back. `live` must not be empty.
 */
export function rendezvous(key: string, live: readonly Candidate[]): number {
  const base = fnv1a(key);
  let best = live[0]!.slot;
  let bestWeight = -1;
  for (const c of live) {
    const w = mix32(base ^ Math.imul(c.slot + 1, 0x9e3779b1));
    if (w > bestWeight) {
      bestWeight = w;
      best = c.slot;
    }
  }
  return best;
}

/** FNV-1a over the UTF-16 code units of a short string (an address, a key). */
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

/** Whether `slot` is among `live`. */
export function isLive(slot: number, live: readonly Candidate[]): boolean {
  if (slot < 0) return false;
  for (const c of live) if (c.slot === slot) return true;
  return false;
}

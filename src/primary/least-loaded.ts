import type { Candidate } from '../routing';

/**
 * Least-loaded choice with round-robin among ties, so a burst of new sessions on idle
 * workers still alternates between them. Workers a rolling reload is about to replace are
 * chosen only when no other is ready: a session started there would move again minutes later.
 */
export class LeastLoaded {
  #cursor = 0;

  pick(candidates: readonly Candidate[]): number {
    const n = candidates.length;
    let best: Candidate | undefined;
    let bestIndex = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#cursor + k) % n;
      const c = candidates[i]!;
      if (best === undefined || better(c, best)) {
        best = c;
        bestIndex = i;
      }
    }
    this.#cursor = bestIndex + 1;
    return best!.slot;
  }
}

function better(c: Candidate, than: Candidate): boolean {
  const outgoing = c.outgoing === true;
  if (outgoing !== (than.outgoing === true)) return !outgoing;
  return c.load < than.load;
}

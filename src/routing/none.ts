import { LeastLoaded } from './least-loaded';
import type { Candidate, Connection, Router } from './types';

/** No stickiness: least-loaded, round-robin among ties. For stateless apps. */
export class NoneRouter implements Router {
  readonly name = 'none';
  readonly readsHead = false;
  readonly #pickLeast = new LeastLoaded();

  pick(_connection: Connection, candidates: readonly Candidate[]): number {
    return this.#pickLeast.pick(candidates);
  }
}

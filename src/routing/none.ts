import type { RoutedRequest, Router } from './types';

/** No stickiness: every connection goes to the least-loaded worker. For stateless apps. */
export class NoneRouter implements Router {
  readonly name = 'none';
  readonly reads = 'nothing';
  readonly perRequest = false;

  route(_request: RoutedRequest): number {
    return -1;
  }

  namedSlot(): number {
    return -1;
  }
}

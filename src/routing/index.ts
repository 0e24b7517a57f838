import { IpRouter } from './ip';
import { NoneRouter } from './none';
import { SidRouter } from './sid';
import type { Router, Strategy } from './types';

export type { Candidate, Connection, Router, Strategy } from './types';
export { STRATEGIES } from './types';
export { SidRouter, IpRouter, NoneRouter };

/** Default Engine.IO path (Socket.IO's); workers announce others through `attach(io)`. */
export const DEFAULT_ENGINE_PATH = '/socket.io/';

export function createRouter(strategy: Strategy, hostId: string): Router {
  switch (strategy) {
    case 'sid':
      return new SidRouter(hostId, [DEFAULT_ENGINE_PATH]);
    case 'ip':
      return new IpRouter();
    case 'none':
      return new NoneRouter();
  }
}

import { debuglog } from 'node:util';
import { output } from './output';

/**
 * Tracing namespaces, off by default: `NODE_DEBUG=corral:*` (or `corral:primary`,
 * `corral:router`, `corral:worker`, `corral:forward`) turns them on.
 */
export const trace = {
  primary: debuglog('corral:primary'),
  router: debuglog('corral:router'),
  worker: debuglog('corral:worker'),
  forward: debuglog('corral:forward'),
};

/** Operator-facing log lines of the primary: one line each, prefixed so they stand out. */
export const log = {
  info(message: string): void {
    output().corral('out', `[corral] ${message}\n`);
  },
  warn(message: string): void {
    output().corral('err', `[corral] warning: ${message}\n`);
  },
  error(message: string): void {
    output().corral('err', `[corral] error: ${message}\n`);
  },
};

import { debuglog } from 'node:util';
import { output, type LogFields } from './output';

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

/**
 * Operator-facing lines of the primary, one per event: `event` names it for machines
 * (`worker.ready`, listed in the README), `message` says it for people, `fields` carry its
 * values in JSON mode (`--log-format json`).
 */
export const log = {
  info(event: string, message: string, fields?: LogFields): void {
    output().corral({ level: 'info', event, message, fields });
  },
  warn(event: string, message: string, fields?: LogFields): void {
    output().corral({ level: 'warn', event, message, fields });
  },
  error(event: string, message: string, fields?: LogFields): void {
    output().corral({ level: 'error', event, message, fields });
  },
};

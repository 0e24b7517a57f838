import { CorralError } from '../errors';
import { checkCluster } from './cluster';
import { checkReadState } from './raw-handle';

/**
 * Check at start that this Node offers every internal corral will use, so an upgrade of Node
 * fails here, with a clear error, rather than at the first connection. `readsHead`: the
 * routing strategy reads request heads off raw handles (sid), which needs Node's read state.
 * (The worker-side `cluster._getServer` can only be seen in a worker: it is checked there, at
 * its start.) Throws `ERR_CORRAL_UNSUPPORTED_NODE`.
 */
export function checkRuntime(readsHead: boolean): void {
  const missing = [readsHead ? checkReadState() : undefined, checkCluster()].filter((m): m is string => m !== undefined);
  if (missing.length === 0) return;
  const hint = readsHead ? ' (`--sticky ip` or `none` reads no request head and needs less of them)' : '';
  throw new CorralError('ERR_CORRAL_UNSUPPORTED_NODE', `this Node.js (${process.version}) lacks internals corral relies on: ${missing.join('; ')}. Use Node.js 20, 22 or 24${hint}.`);
}

import { CorralError } from '../errors';

/**
 * A worker's life. `starting`: forked, the app is loading. `ready`: the app listens, the worker
 * takes connections. `unresponsive`: ready, but its event loop missed the heartbeat (stopped,
 * blocked): no new connections, its sessions' requests are answered 503 until it answers
 * again. `draining`: takes no new connections, finishes what it has. `stopped`: the process is gone.
 */
export type WorkerState = 'starting' | 'ready' | 'unresponsive' | 'draining' | 'stopped';

const NEXT: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ['ready', 'draining', 'stopped'],
  ready: ['unresponsive', 'draining', 'stopped'],
  unresponsive: ['ready', 'draining', 'stopped'],
  draining: ['stopped'],
  stopped: [],
};

/** The one place a state changes; an illegal change is a bug in corral and throws. */
export function transition(from: WorkerState, to: WorkerState, who: string): WorkerState {
  if (!NEXT[from].includes(to)) {
    throw new CorralError('ERR_CORRAL_ILLEGAL_TRANSITION', `${who}: illegal state change ${from} -> ${to} (a bug in corral; please report it)`);
  }
  return to;
}

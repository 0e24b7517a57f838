import cluster from 'node:cluster';
import Module from 'node:module';
import type { Server } from 'node:net';
import { CorralError } from '../errors';

/** What net's `listenInCluster` hands to `cluster._getServer` in a worker. */
export interface ServerQuery {
  port?: number;
  fd?: number;
  address?: string | null;
}

export type GetServer = (server: Server, query: ServerQuery, callback: (status: number, handle: unknown) => void) => void;

interface ClusterInternals {
  _getServer?: GetServer;
}

/**
 * Put `hook` in front of cluster's worker-side server lookup (what net's `listen` asks for a
 * listening handle in a cluster worker, the seam Node's own round-robin mode is built on).
 * The hook gets the original to fall back on. Returns the undo.
 */
export function hookGetServer(hook: (original: GetServer) => GetServer): () => void {
  const internals = cluster as unknown as ClusterInternals;
  const original = internals._getServer;
  if (typeof original !== 'function') {
    throw new CorralError('ERR_CORRAL_UNSUPPORTED_NODE', `this Node.js (${process.version}) has no cluster._getServer in its workers, which corral serves the app's listen() through; use Node.js 20, 22 or 24.`);
  }
  internals._getServer = hook(original);
  return () => {
    internals._getServer = original;
  };
}

/** Run `path` as the main module, as `node path` would (CommonJS or ESM): Node's own entry point. */
export function runMain(path: string): void {
  const run = (Module as unknown as { runMain?: (main: string) => void }).runMain;
  if (typeof run !== 'function') throw new CorralError('ERR_CORRAL_UNSUPPORTED_NODE', `this Node.js (${process.version}) has no Module.runMain to start the app with; use Node.js 20, 22 or 24.`);
  run(path);
}

/** What is missing of the cluster internals in a worker of this Node, or undefined. Run in the primary it asks the worker-side module. */
export function checkCluster(): string | undefined {
  if (typeof (Module as unknown as { runMain?: unknown }).runMain !== 'function') return 'Module.runMain is missing';
  return undefined;
}

import { constants } from 'node:os';
import type { Server } from 'node:net';
import { hookGetServer } from '../internal/cluster';
import { trace } from '../log';

const UV_EADDRINUSE = -constants.errno.EADDRINUSE;

/**
 * Serve the app's `listen(port)` on corral's public port through corral instead of asking
 * the primary's cluster module to bind it (which would fail: the primary holds the port).
 *
 * In a cluster worker, net's `listen` asks `cluster._getServer` for a handle, and uses
 * whatever it gets as its listening handle. We answer for the public port with a stand-in
 * (`claim` returns it, or undefined when the port is taken already), so Node's real listen
 * code runs; `claim` hears the host the app named too, `other` any other TCP port the app listens on. Other ports keep cluster's usual behaviour. Returns the undo.
 */
export function hookListen(port: number, claim: (server: Server, host: string | undefined) => object | undefined, other: (port: number) => void = () => undefined): () => void {
  return hookGetServer((original) =>
    function getServer(this: unknown, server, query, callback) {
      const forCorral = query.port === port && (query.fd === undefined || query.fd === null || query.fd < 0);
      if (!forCorral) {
        trace.worker("listen on port %s: not corral's (%d), left to cluster", query.port, port);
        if (typeof query.port === 'number' && query.port > 0) other(query.port);
        return original.call(this, server, query, callback);
      }
      // The address the app asked for, already resolved by net (null: every interface).
      const handle = claim(server, query.address ?? undefined);
      process.nextTick(callback, handle === undefined ? UV_EADDRINUSE : 0, handle);
    },
  );
}

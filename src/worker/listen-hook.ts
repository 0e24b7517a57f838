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
 * code runs. Other ports keep cluster's usual behaviour. Returns the undo.
 */
export function hookListen(port: number, claim: (server: Server) => object | undefined): () => void {
  return hookGetServer((original) =>
    function getServer(this: unknown, server, query, callback) {
      const forCorral = query.port === port && (query.fd === undefined || query.fd === null || query.fd < 0);
      if (!forCorral) {
        trace.worker("listen on port %s: not corral's (%d), left to cluster", query.port, port);
        return original.call(this, server, query, callback);
      }
      const handle = claim(server);
      process.nextTick(callback, handle === undefined ? UV_EADDRINUSE : 0, handle);
    },
  );
}

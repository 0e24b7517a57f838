import { createServer, type AddressInfo, type Server } from 'node:net';
import { CorralError } from '../errors';
import { serverHandleOf } from '../internal/net';
import type { RawHandle } from '../internal/raw-handle';

/** The public listening socket, delivering raw TCP handles (no `net.Socket` per connection). */
export interface Listener {
  readonly server: Server;
  readonly address: AddressInfo;
}

/**
 * Bind the public port and take over accepting: each connection arrives as a raw handle,
 * as Node's cluster round-robin takes them. `onError` hears accept failures (EMFILE...).
 */
export async function listen(
  port: number,
  host: string | undefined,
  onConnection: (handle: RawHandle) => void,
  onError: (status: number) => void,
): Promise<Listener> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    server.listen({ port, host, backlog: 2048 }, () => resolve());
  });
  server.on('error', () => undefined);
  const handle = serverHandleOf(server);
  if (handle === undefined) throw new CorralError('ERR_CORRAL_UNSUPPORTED_NODE', `the listening socket has no handle to accept on: this Node.js (${process.version}) is not one corral supports; use Node.js 20, 22 or 24.`);
  handle.onconnection = (status, client) => {
    if (status < 0 || client === undefined) onError(status);
    else onConnection(client);
  };
  return { server, address: server.address() as AddressInfo };
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string | undefined): CorralError {
  const where = `${host ?? '*'}:${port}`;
  if (err.code === 'EADDRINUSE') {
    return new CorralError('ERR_CORRAL_PORT_IN_USE', `cannot listen on ${where}: the port is already in use. Stop what holds it, or choose another with --port.`, { cause: err });
  }
  if (err.code === 'EACCES') {
    return new CorralError('ERR_CORRAL_LISTEN_FAILED', `cannot listen on ${where}: permission denied (ports below 1024 need privileges). Use a port >= 1024 behind a proxy.`, { cause: err });
  }
  return new CorralError('ERR_CORRAL_LISTEN_FAILED', `cannot listen on ${where}: ${err.message}. Check --host and --port.`, { cause: err });
}

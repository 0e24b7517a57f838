import type { Socket } from 'node:net';
import { isWritingResponse } from '../internal/http';
import { handleOf, showRemote, type RemoteAddress } from '../internal/net';
import type { RawHandle } from '../internal/raw-handle';
import { trace } from '../log';

/**
 * Bytes the primary read off a connection, waiting for the socket Node builds around the
 * handle. They are put back into the socket (unshift) before any `connection` listener
 * runs, so the app's HTTP parser sees the request from its first byte.
 */
export class Intake {
  readonly #bytes = new WeakMap<RawHandle, Buffer>();
  /** The client a PROXY header named, for the socket Node is about to build on the handle. */
  readonly #clients = new WeakMap<RawHandle, RemoteAddress>();
  readonly #relayedHandles = new WeakSet<RawHandle>();
  readonly #relayed = new WeakSet<Socket>();
  #taken = 0;
  readonly #onChange: () => void;
  /** Open sockets on the app's server; during a drain, since when each has been seen idle (0 = busy). */
  readonly #sockets = new Map<Socket, number>();
  readonly #upgraded = new WeakSet<Socket>();

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /** Open connections on the app's corral server. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Handoffs taken since start. */
  get taken(): number {
    return this.#taken;
  }

  /**
   * Give a handed-off connection to the app's server. Node's own accept code (net's
   * `onconnection`, reached through the stand-in handle) builds the socket and does the
   * server's bookkeeping, so `server.close()` and `maxConnections` count it.
   */
  deliver(deliverTo: (status: number, handle: RawHandle) => void, handle: RawHandle, bytes: Buffer, relayed: boolean, client: RemoteAddress | undefined): void {
    this.#taken++;
    if (bytes.length > 0) this.#bytes.set(handle, bytes);
    if (relayed) this.#relayedHandles.add(handle);
    if (client !== undefined) this.#clients.set(handle, client);
    deliverTo(0, handle);
    this.#bytes.delete(handle);
    this.#clients.delete(handle);
  }

  /** Whether a socket came back from another worker (a relayed upgrade): serve it here, whatever it asks. */
  isRelayed(socket: Socket): boolean {
    return this.#relayed.has(socket);
  }

  /** Called from the server's `emit('connection')`, before the app's listeners. */
  onConnection(socket: Socket): void {
    const handle = handleOf(socket);
    const bytes = handle === undefined ? undefined : this.#bytes.get(handle);
    if (bytes !== undefined) socket.unshift(bytes);
    const client = handle === undefined ? undefined : this.#clients.get(handle);
    if (client !== undefined) showRemote(socket, client);
    if (handle !== undefined && this.#relayedHandles.has(handle)) this.#relayed.add(socket);
    this.#sockets.set(socket, 0);
    this.#onChange();
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#onChange();
    });
  }

  /** The socket left HTTP (WebSocket or another upgrade): its owner closes it, not a drain sweep. */
  upgraded(socket: Socket): void {
    this.#upgraded.add(socket);
  }

  /**
   * Close keep-alive connections that have been idle for `graceMs`. Closing only those idle a
   * while (rather than all idle ones at once) keeps the race with a client that is sending its
   * next request right now small; busy connections close through `Connection: close`.
   */
  closeIdle(graceMs: number): void {
    // Checked only while draining, so the hot path pays nothing per request.
    const now = Date.now();
    for (const [socket, idleSince] of this.#sockets) {
      if (this.#upgraded.has(socket)) continue;
      if (isWritingResponse(socket)) {
        this.#sockets.set(socket, 0);
      } else if (idleSince === 0) {
        this.#sockets.set(socket, now);
      } else if (now - idleSince >= graceMs) {
        trace.worker('draining: closing a connection idle for %d ms', now - idleSince);
        socket.destroy();
      }
    }
  }
}

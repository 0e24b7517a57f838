import { isIPv4, isIPv6, Socket, SocketAddress, type Server } from 'node:net';
import type { RawHandle, RawServerHandle } from './raw-handle';

/** The part of net's handle a `net.Socket` keeps: `reading` is how net knows reads are on. */
interface ReadingHandle extends RawHandle {
  reading?: boolean;
}

/**
 * Stop a socket reading, for good until the returned undo is called: its handle's reads, and
 * the stream machinery's own attempts to restart them (net restarts reads from `_read` unless
 * the handle says it is reading). The undo gives both back, and the socket reads again when
 * next asked, like any other. Returns undefined when the socket has no handle (closed).
 */
export function holdReads(socket: Socket): (() => void) | undefined {
  const handle = handleOf(socket) as ReadingHandle | undefined;
  if (handle === undefined) return undefined;
  handle.readStop();
  handle.reading = false;
  const streamRead = socket._read;
  socket._read = () => undefined;
  return () => {
    socket._read = streamRead;
    // The stream may have called the no-op meanwhile and now waits for a push that never came,
    // so it would not call _read again: call net's _read ourselves. It restarts the handle's
    // reads (the handle says it is not reading), and the next push ends the wait.
    if (!socket.destroyed) streamRead.call(socket, 64 * 1024);
    socket.resume();
  };
}

/** A socket's raw handle, or undefined once it has none. */
export function handleOf(socket: Socket): RawHandle | undefined {
  return (socket as unknown as { _handle: RawHandle | null })._handle ?? undefined;
}

/** A listening server's raw handle (to take over its accepts), or undefined when it has none. */
export function serverHandleOf(server: Server): RawServerHandle | undefined {
  return (server as unknown as { _handle: RawServerHandle | null })._handle ?? undefined;
}

/** A `net.Socket` around an accepted raw handle: `handle` is the (undocumented) option net itself uses on accept. */
export function socketOnHandle(handle: RawHandle): Socket {
  return new Socket({ handle, readable: true, writable: true } as ConstructorParameters<typeof Socket>[0]);
}

/**
 * Whether net would refuse one more connection on `server` for `maxConnections` (net's own
 * count, `_connections`), so a worker can say no before it takes a connection.
 */
export function atConnectionLimit(server: Server | undefined): boolean {
  const counted = server as (Server & { _connections?: number }) | undefined;
  return counted !== undefined && typeof counted.maxConnections === 'number' && typeof counted._connections === 'number' && counted._connections >= counted.maxConnections;
}

/** A client's address as a proxy told it. */
export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

const SHOWN = Symbol('corral.remote');
type Shown = Socket & { [SHOWN]?: RemoteAddress };

/**
 * Make a socket report `remote` as its peer: `remoteAddress`, `remotePort` and `remoteFamily`
 * (so Express's `req.ip` and Engine.IO's `handshake.address`) read it instead of the proxy's
 * address. Own getters shadow net's prototype ones, which ask the kernel; calling again
 * changes what they report (a pooled connection that carries requests of several clients).
 */
export function showRemote(socket: Socket, remote: RemoteAddress): void {
  const shown = socket as Shown;
  if (shown[SHOWN] === undefined) {
    Object.defineProperties(socket, {
      remoteAddress: { configurable: true, get: () => shown[SHOWN]!.address },
      remotePort: { configurable: true, get: () => shown[SHOWN]!.port },
      remoteFamily: { configurable: true, get: () => shown[SHOWN]!.family },
    });
  }
  shown[SHOWN] = remote;
}

/** The address {@link showRemote} gave a socket, if it gave one. */
export function shownRemote(socket: Socket): RemoteAddress | undefined {
  return (socket as Shown)[SHOWN];
}

/** Whether a listen address means every interface (`::`, `0.0.0.0`, ''). */
export function isWildcard(host: string): boolean {
  return host === '' || host === '::' || host === '0.0.0.0' || host === '::0' || host === '0:0:0:0:0:0:0:0';
}

/** An IP address as Node prints it (`::ffff:1.2.3.4` as `1.2.3.4`), for comparing two; other text as given. */
export function normalizeAddress(address: string): string {
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (family === undefined) return address;
  const text = new SocketAddress({ address, family }).address;
  return text.startsWith('::ffff:') && isIPv4(text.slice(7)) ? text.slice(7) : text;
}

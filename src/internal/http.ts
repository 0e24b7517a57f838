import type { Socket, Server } from 'node:net';

/**
 * Whether a Node HTTP server is writing a response on this socket now. `_httpMessage` is the
 * response http's server attaches to its socket while one is in progress (null between
 * requests); reading it costs nothing per request, so a drain can tell busy from idle.
 */
export function isWritingResponse(socket: Socket): boolean {
  return (socket as { _httpMessage?: unknown })._httpMessage != null;
}

/** The part of an HTTP server's options that bounds how long a request head may take. */
interface HeadTimes {
  headersTimeout?: number;
  requestTimeout?: number;
  connectionsCheckingInterval?: number;
}

/**
 * Make `headTimeout` bound the whole request head on an HTTP server (never raise what the app
 * set). Node checks these deadlines on an interval it arms when the server starts listening:
 * called before that (net's listen asks for the handle first), the shorter interval holds.
 */
export function boundHeadTime(server: Server, headTimeout: number): void {
  const http = server as Server & HeadTimes;
  if (typeof http.headersTimeout !== 'number') return;
  if (http.headersTimeout === 0 || http.headersTimeout > headTimeout) http.headersTimeout = headTimeout;
  if (typeof http.requestTimeout === 'number' && http.requestTimeout > 0 && http.requestTimeout < http.headersTimeout) http.headersTimeout = http.requestTimeout;
  const every = Math.max(100, Math.min(30_000, Math.floor(headTimeout / 4)));
  if (typeof http.connectionsCheckingInterval === 'number' && http.connectionsCheckingInterval > every) http.connectionsCheckingInterval = every;
}

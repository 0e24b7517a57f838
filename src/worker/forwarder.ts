import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { rmSync } from 'node:fs';
import type { RemoteAddress } from '../internal/net';
import { trace } from '../log';

/**
 * Carries the client's address (`<family> <address> <port>`) to the worker a request is
 * forwarded to, whose app sees it as `req.socket.remoteAddress`: the hop is invisible.
 * Dropped from what clients send, so nobody outside can set it.
 */
export const CLIENT_HEADER = 'x-corral-client';

/** Headers that describe one hop, never passed on (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // We answer `Expect: 100-continue` on the outer hop ourselves.
  'expect',
  CLIENT_HEADER,
]);

/**
 * The rare path of keep-alive: a request that reached this worker on a connection it owns
 * but belongs to a session of another worker. It is passed to the owner's internal server
 * over a Unix socket and the answer streamed back, so the client's connection stays open
 * and every request meets its session.
 */
export class Forwarder {
  /**
   * Unbounded: held long-polls would starve a bounded pool (a GET may wait 25 s for data),
   * and every socket is local.
   */
  readonly #agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 64 });
  #internal: Server | undefined;
  #path = '';

  /**
   * Start this worker's internal server on `path`: requests forwarded by peers reach `handle`
   * (the app's own request handling, bypassing the forwarding check).
   */
  listen(path: string, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
    rmSync(path, { force: true });
    this.#path = path;
    const server = createServer(handle);
    server.keepAliveTimeout = 60_000;
    // A forwarded long-poll may be held for the Engine.IO ping interval and more.
    server.requestTimeout = 0;
    this.#internal = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      // exclusive: bind here, not through the primary's cluster module (the default in a worker).
      server.listen({ path, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** Pass `req` to the worker listening on `peerPath` and stream its answer into `res`. */
  forward(req: IncomingMessage, res: ServerResponse, peerPath: string): void {
    trace.forward('%s %s -> %s', req.method, req.url, peerPath);
    const headers = withoutHopByHop(req.rawHeaders);
    const { remoteAddress, remotePort, remoteFamily } = req.socket;
    if (remoteAddress !== undefined) headers.push(CLIENT_HEADER, `${remoteFamily ?? ''} ${remoteAddress} ${remotePort ?? 0}`);
    const inner = request({
      socketPath: peerPath,
      method: req.method,
      path: req.url,
      headers,
      agent: this.#agent,
      setHost: false,
    });
    inner.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.rawHeaders));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    inner.on('error', (err) => {
      trace.forward('forwarding failed: %s', err.message);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('corral: the worker that holds this session did not answer; reconnect.\n');
      } else {
        res.destroy();
      }
    });
    // The client left: stop the inner request too (it may be a long-poll held for seconds).
    res.on('close', () => {
      if (!res.writableFinished) inner.destroy();
    });
    req.pipe(inner);
  }

  /** Stop the internal server and drop pooled sockets. Idempotent. */
  close(): void {
    this.#agent.destroy();
    const server = this.#internal;
    this.#internal = undefined;
    if (server === undefined) return;
    server.close();
    server.closeAllConnections();
    rmSync(this.#path, { force: true });
  }
}

/** A flat raw header list (`[name, value, name, value, ...]`) minus hop-by-hop headers. */
function withoutHopByHop(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** The client a forwarding peer named (and the header taken out of what the app sees), or undefined. */
export function readClientHeader(req: IncomingMessage): RemoteAddress | undefined {
  const value = req.headers[CLIENT_HEADER];
  if (typeof value !== 'string') return undefined;
  delete req.headers[CLIENT_HEADER];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === CLIENT_HEADER) raw.splice(i, 2);
  const [family, address, port] = value.split(' ');
  if ((family !== 'IPv4' && family !== 'IPv6') || address === undefined || isIP(address) === 0) return undefined;
  return { family, address, port: Number(port) || 0 };
}

/** One HTTP/1.1 request on a fresh connection (`Connection: close`), with a raw socket: cheap. */
import net from 'node:net';

export interface RawResponse {
  status: number;
  body: string;
  /** process.hrtime.bigint() just before the connect was started (only when asked: `stamp`). */
  connectNs: bigint | null;
  /** process.hrtime.bigint() just before the request was written (only with `stamp`). */
  writeNs: bigint | null;
}

/**
 * Resolves with the response, or rejects with 'timeout' or the socket error code. With
 * `stamp`, notes the monotonic clock just before the connect starts and before the write.
 */
export function oneShot(host: string, port: number, localAddress: string, request: string, timeoutMs: number, stamp = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const connectNs = stamp ? process.hrtime.bigint() : null;
    let writeNs: bigint | null = null;
    const sock = net.connect({ host, port, localAddress });
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) return reject(err);
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0);
      const sep = raw.indexOf('\r\n\r\n');
      resolve({ status, body: sep >= 0 ? raw.slice(sep + 4) : '', connectNs, writeNs });
    };
    const timer = setTimeout(() => settle(new Error('timeout')), timeoutMs);
    sock.setNoDelay(true);
    sock.on('connect', () => {
      if (stamp) writeNs = process.hrtime.bigint();
      sock.write(request);
    });
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => settle(null));
    sock.on('error', (e: NodeJS.ErrnoException) => settle(chunks.length > 0 ? null : new Error(e.code ?? e.message)));
  });
}

export function get(path: string, host: string, port: number): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`;
}

export function post(path: string, host: string, port: number, body: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n` +
    `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

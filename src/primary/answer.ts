import { socketOnHandle } from '../internal/net';
import type { RawHandle } from '../internal/raw-handle';

/** How long an answered connection may linger (draining what the client still sends) before it is cut. */
const LINGER_MS = 2000;

/**
 * Answer a connection from the primary itself and close it: the rare paths where no worker
 * should see it (request line too long, no worker ready). Wrapping the raw handle in a
 * `net.Socket` costs more than the hot path may spend, which is why only errors come here.
 */
export function answerAndClose(handle: RawHandle, status: number, reason: string, body: string, headers = ''): void {
  const socket = socketOnHandle(handle);
  socket.on('error', () => socket.destroy());
  // Read and drop what the client still sends, so closing does not reset the connection
  // before the client has read our answer.
  socket.resume();
  socket.setTimeout(LINGER_MS, () => socket.destroy());
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${headers}Content-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/** Close a connection without a word: for clients that sent nothing, or left. */
export function closeQuietly(handle: RawHandle): void {
  if (handle.fd >= 0) handle.close();
}

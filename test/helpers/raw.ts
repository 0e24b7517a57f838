import { connect } from 'node:net';

export interface RawResult {
  /** Everything the server sent, latin1. */
  text: string;
  /** The server closed the connection (FIN or reset). */
  closed: boolean;
  /** `done` matched before the deadline. */
  matched: boolean;
}

/**
 * Open a TCP connection, send `pieces` one after another (each in its own write, a tick
 * apart, to split the request where we want), and collect the answer until `done` says it is
 * complete, the server closes, or `timeoutMs` passes.
 */
export function rawExchange(port: number, pieces: (string | Buffer)[], done: (text: string) => boolean, timeoutMs = 10_000, localAddress = '127.0.0.1'): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let finished = false;
    const finish = (closed: boolean, matched: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed, matched });
    };
    const timer = setTimeout(() => finish(false, false), timeoutMs);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (done(text)) finish(false, true);
    });
    socket.on('close', () => finish(true, done(text)));
    socket.on('error', () => undefined);
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

/** Count the complete HTTP/1.1 responses with a Content-Length body in `text`. */
export function countResponses(text: string): number {
  let count = 0;
  let at = 0;
  for (;;) {
    const head = text.indexOf('\r\n\r\n', at);
    if (head < 0) return count;
    const length = /content-length: *(\d+)/i.exec(text.slice(at, head));
    const end = head + 4 + (length ? Number(length[1]) : 0);
    if (end > text.length) return count;
    count++;
    at = end;
  }
}

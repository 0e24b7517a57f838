import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

/** One HTTP exchange, with the socket that carried it. */
export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

/** A bounded HTTP request (no retries), returning the socket that carried it. */
export function exchange(url: string, options: { method?: string; body?: string; agent?: Agent | false; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', agent: options.agent, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: req.socket! }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer to ${url} in time`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Engine.IO v4 long-polling, by hand: what socket.io-client does, one request at a time. */
export class PollingSession {
  readonly sid: string;
  readonly #base: string;

  private constructor(base: string, sid: string) {
    this.#base = base;
    this.sid = sid;
  }

  /** Open a session (Engine.IO handshake, then Socket.IO's connect to `/`). */
  static async open(url: string, agent: Agent | false): Promise<PollingSession> {
    const base = `${url}/socket.io/?EIO=4&transport=polling`;
    const hs = await exchange(base, { agent });
    if (hs.status !== 200 || !hs.body.startsWith('0')) throw new Error(`handshake failed: ${hs.status} ${hs.body}`);
    const { sid } = JSON.parse(hs.body.slice(1)) as { sid: string };
    const session = new PollingSession(base, sid);
    await session.send('40', agent);
    const connected = await session.receive(agent);
    if (!connected.some((p) => p.startsWith('40'))) throw new Error(`no Socket.IO connect: ${connected.join(' | ')}`);
    return session;
  }

  get url(): string {
    return `${this.#base}&sid=${encodeURIComponent(this.sid)}`;
  }

  async send(packet: string, agent: Agent | false): Promise<Exchange> {
    const r = await exchange(this.url, { method: 'POST', body: packet, agent, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    if (r.status !== 200 || r.body !== 'ok') throw new Error(`POST answered ${r.status} ${r.body}`);
    return r;
  }

  /** One GET: the packets the server had queued (Engine.IO separates them with \x1e). */
  async receive(agent: Agent | false): Promise<string[]> {
    const r = await exchange(this.url, { agent });
    if (r.status !== 200) throw new Error(`GET answered ${r.status} ${r.body}`);
    return r.body.split('\x1e');
  }
}

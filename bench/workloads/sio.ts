/** Opening and closing one socket.io-client session, cheaply and with a classified outcome. */
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';

export type Transports = 'polling' | 'default' | 'websocket';

export interface Client {
  socket: Socket;
  agent: http.Agent;
  pid: number;
  connectMs: number;
  /** Set by the engine's upgrade events (default transports). */
  upgrade: 'none' | 'done' | 'error';
  /** Why the session ended, if it ended before we closed it. */
  dropped: string | null;
}

export type Outcome = { kind: 'ok'; client: Client } | { kind: 'failed'; reason: string } | { kind: 'hung' };

interface TransportErrorLike {
  message?: string;
  description?: unknown;
  context?: { responseText?: unknown };
}

/** Names a connect_error: Engine.IO's "Session ID unknown" (code 1) apart from the rest. */
export function reasonOf(err: unknown): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as TransportErrorLike;
  const body = typeof e.context?.responseText === 'string' ? e.context.responseText : '';
  if (body.includes('"code":1')) return 'Session ID unknown';
  const m = /"message":"([^"]+)"/.exec(body);
  if (m) return `${e.message ?? 'error'}: ${m[1]}`;
  if (typeof e.description === 'number' && e.description !== 0) return `${e.message ?? 'error'} (HTTP ${e.description})`;
  if (e.description instanceof Error) return `${e.message ?? 'error'}: ${e.description.message}`;
  return e.message ?? String(err);
}

const TRANSPORTS: Record<Transports, ('polling' | 'websocket')[]> = {
  polling: ['polling'],
  default: ['polling', 'websocket'],
  websocket: ['websocket'],
};

/**
 * Connects one client from `localAddress` and asks which worker holds it (an acked 'pid').
 * Like one browser: its own keep-alive agent, no reconnection. Resolves within `deadlineMs`.
 */
export function open(url: string, localAddress: string, transports: Transports, deadlineMs: number): Promise<Outcome> {
  const t0 = performance.now();
  const agent = new http.Agent({ keepAlive: true, localAddress });
  const socket = io(url, {
    transports: TRANSPORTS[transports],
    reconnection: false,
    forceNew: true,
    timeout: deadlineMs * 2,
    // engine.io-client passes `agent` to its XHR (polling) and `localAddress` to ws.
    agent: agent as unknown as string,
    localAddress,
  } as Parameters<typeof io>[1]);
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const client: Client = { socket, agent, pid: 0, connectMs: 0, upgrade: 'none', dropped: null };
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (o.kind !== 'ok') void close(client);
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'hung' }), deadlineMs);
    socket.io.on('open', () => {
      socket.io.engine.on('upgrade', () => (client.upgrade = 'done'));
      socket.io.engine.on('upgradeError', () => (client.upgrade = client.upgrade === 'done' ? 'done' : 'error'));
    });
    socket.on('connect_error', (err) => finish({ kind: 'failed', reason: reasonOf(err) }));
    socket.on('disconnect', (reason) => {
      client.dropped = reason;
      finish({ kind: 'failed', reason: `dropped after connect: ${reason}` });
    });
    socket.on('connect', () => {
      client.connectMs = performance.now() - t0;
      const left = Math.max(1, deadlineMs - (performance.now() - t0));
      socket.timeout(left).emit('pid', (err: Error | null, pid: number) => {
        if (err) return; // the deadline timer calls it hung
        client.pid = pid;
        finish({ kind: 'ok', client });
      });
    });
  });
}

const CLOSE_GRACE_MS = 150;

/**
 * Leaves politely, then frees the agent's sockets a little later (the close packet may be in
 * flight). Resolves once the agent is destroyed, so a workload can leave nothing behind.
 */
export function close(c: Client): Promise<void> {
  c.socket.removeAllListeners();
  c.socket.disconnect();
  return new Promise((resolve) =>
    setTimeout(() => {
      c.agent.destroy();
      resolve();
    }, CLOSE_GRACE_MS),
  );
}

/** Closes every client still tracked and waits for all of them. */
export async function closeAll(clients: Iterable<Client>): Promise<void> {
  await Promise.all(Array.from(clients, close));
}

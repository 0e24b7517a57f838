import { io as connect, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';

export interface SessionResult {
  /** Worker pids that answered this client's acks (one, if the session stuck). */
  pids: Set<number>;
  acks: number;
  errors: string[];
}

export interface LoadResult {
  connected: number;
  failed: number;
  /** Engine.IO "Session ID unknown" (error code 1) seen by any client. */
  sessionUnknown: number;
  errors: string[];
  /** Clients per worker pid (by the pid of their first ack). */
  perPid: Map<number, number>;
  acks: number;
  /** Clients whose acks came from more than one worker: must be 0. */
  switched: number;
}

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/**
 * Connect `count` real socket.io-client sessions (at most `concurrency` at once), each doing
 * `roundTrips` acked echoes, then disconnect. Every wait is bounded by `timeoutMs`.
 */
export async function runSessions(url: string, count: number, roundTrips: number, options: ClientOptions, concurrency = 50, timeoutMs = 60_000): Promise<LoadResult> {
  const result: LoadResult = { connected: 0, failed: 0, sessionUnknown: 0, errors: [], perPid: new Map(), acks: 0, switched: 0 };
  let next = 0;
  const deadline = Date.now() + timeoutMs;
  const lane = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      next++;
      const r = await oneSession(url, roundTrips, options, deadline - Date.now());
      if (r.errors.length > 0) {
        result.failed++;
        result.errors.push(...r.errors);
        result.sessionUnknown += r.errors.filter((e) => /Session ID unknown|"code":1\b/.test(e)).length;
      } else {
        result.connected++;
      }
      result.acks += r.acks;
      if (r.pids.size > 1) result.switched++;
      const first = [...r.pids][0];
      if (first !== undefined) result.perPid.set(first, (result.perPid.get(first) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return result;
}

export async function oneSession(url: string, roundTrips: number, options: ClientOptions, timeoutMs = 20_000): Promise<SessionResult> {
  const socket = connect(url, { forceNew: true, reconnection: false, timeout: timeoutMs, ...options });
  const out: SessionResult = { pids: new Set(), acks: 0, errors: [] };
  const fail = (what: string) => (err: unknown): void => {
    out.errors.push(`${what}: ${describe(err)}`);
  };
  socket.io.engine?.on('error', fail('engine'));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connect within deadline')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') out.errors.push(`disconnect: ${reason}`);
    });
    for (let i = 0; i < roundTrips && out.errors.length === 0; i++) {
      const reply = (await socket.timeout(timeoutMs).emitWithAck('echo', i)) as { data: number; pid: number };
      if (reply.data !== i) throw new Error(`echo ${i} answered ${reply.data}`);
      out.pids.add(reply.pid);
      out.acks++;
    }
  } catch (err) {
    out.errors.push(describe(err));
  } finally {
    socket.disconnect();
  }
  return out;
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { description?: unknown; context?: unknown };
    const extra = e.description !== undefined ? ` ${JSON.stringify(e.description)}` : '';
    const ctx = e.context !== undefined ? ` ${stringify(e.context)}` : '';
    return `${e.message}${extra}${ctx}`;
  }
  return String(err);
}

function stringify(value: unknown): string {
  try {
    if (typeof value === 'object' && value !== null && 'responseText' in value) return String((value as { responseText: unknown }).responseText);
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export type { Socket };

/** Messages between bench/soak/run.ts and its load process (bench/soak/client.ts). */

export interface SoakLoad {
  url: string;
  host: string;
  port: number;
  addresses: readonly string[];
  /** Plain HTTP GET / on new connections, open loop. */
  httpPerSec: number;
  /** Socket.IO clients, polling only / WebSocket only, each an acked echo every `echoMs`. */
  polling: number;
  websocket: number;
  echoMs: number;
  deadlineMs: number;
}

/** A failed HTTP request: when it started and ended (process.hrtime.bigint(), as strings). */
export interface HttpFailure {
  startNs: string;
  endNs: string;
  reason: string;
}

export interface SoakLoadResult {
  http: { attempted: number; ok: number; failures: HttpFailure[]; failuresNotListed: number; shed: number };
  /** Socket.IO: echoes acked / failed, sessions that ended under the client (it reconnects). */
  sio: { echoes: number; echoFailed: number; disconnects: { tNs: string; reason: string; transport: string }[]; reconnectFailed: number };
}

export type ToSoakClient = { type: 'start'; load: SoakLoad } | { type: 'stop' };

export type FromSoakClient =
  | { type: 'hello' }
  | { type: 'started'; polling: number; websocket: number }
  | { type: 'result'; result: SoakLoadResult }
  | { type: 'error'; message: string };

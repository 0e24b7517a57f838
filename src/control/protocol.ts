/**
 * The control socket's wire types: one JSON line each way. Shared by the server (in the
 * primary) and the client (the CLI), which compiles against nothing else of the primary.
 */
import type { RecoveryStats } from '../recovery/store';

/** A request on the control socket: one JSON line. */
export type ControlRequest = { cmd: 'status' } | { cmd: 'reload' } | { cmd: 'stop'; /** Answer once stopped, with the outcome (else at once). */ wait?: boolean } | { cmd: 'scale'; workers: number | string };

/** The answer: one JSON line. */
export type ControlResponse =
  | { ok: true; primary: PrimaryStatus; workers: WorkerStatus[] }
  | { ok: true; message: string }
  | { ok: false; error: string };

export interface PrimaryStatus {
  pid: number;
  /** The bound address ('' before binding). */
  host: string;
  port: number;
  /** First slot port, 0 when none. */
  slotPorts: number;
  hostId: string;
  adapter: string;
  sticky: string;
  uptimeMs: number;
  app: string;
  /** `--name` (`corral list|logs|stop NAME`). */
  name: string;
  /** Workers the cluster is configured for (the slots). */
  workers: number;
  /** Connections handed to workers and accepted, since start (a rate over two readings). */
  handoffs: number;
  /** Socket.IO connection-state recovery's store, when the app uses it. */
  recovery?: RecoveryStats;
}

/** One row of `corral status`: one worker process (or an empty slot). */
export interface WorkerStatus {
  slot: number;
  pid: number | null;
  state: string;
  uptimeMs: number;
  restarts: number;
  connections: number;
  rssBytes: number;
  cpuPercent: number;
  /** Requests this worker forwarded to other workers, and upgrades it relayed, in all. */
  forwarded: number;
  relayed: number;
  /** Open Engine.IO sessions. */
  sessions: number;
  /** Whether connections reach it on corral's private handoff pipe (false: on Node's IPC channel). */
  lane: boolean;
}

export interface ReloadReport {
  ok: boolean;
  /** What happened, for the operator. */
  message: string;
  /** Milliseconds the whole reload took. */
  durationMs: number;
}

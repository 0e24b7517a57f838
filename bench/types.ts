/** Shapes shared by the orchestrator (run.ts) and the client process (workloads/client.ts). */

export type WorkloadName =
  | 'hs-polling'
  | 'hs-default'
  | 'hs-websocket'
  | 'echo-polling'
  | 'echo-websocket'
  | 'broadcast'
  | 'http-keepalive'
  | 'http-newconn'
  | 'handoff-latency'
  | 'balance-one-ip'
  | 'balance-spread'
  | 'footprint';

/** What one workload measured, as the client saw it. Latencies in ms. */
export interface WorkloadResult {
  /** Operations per second over the measured phase (unit depends on the workload). */
  rate: number;
  /** Operations attempted / succeeded. */
  attempted: number;
  ok: number;
  /** Ended with an error (e.g. "Session ID unknown"). */
  failed: number;
  /** Never answered within the deadline. */
  hung: number;
  /** Failure reasons, counted. */
  reasons: Record<string, number>;
  p50: number | null;
  p99: number | null;
  /** Successful sessions or responses per server pid. */
  pids: Record<string, number>;
  /** Number of TCP connections the phase opened, when the workload knows (for CPU per connection). */
  connections: number | null;
  /** Workload-specific figures (upgrades, deliveries, ...), summed over runs in the report. */
  extra: Record<string, number>;
  /** Client connect to the worker's `connection` event, microseconds (handoff-latency only). */
  handoffUs: { p50: number | null; p99: number | null; n: number } | null;
  /**
   * The client's write of its request to the worker's `connection` event, microseconds, 0 when
   * the worker had the connection first (handoff-latency only): what a router that reads the
   * request line adds once the line is sent, apart from the client's own delay in sending it.
   */
  afterSendUs: { p50: number | null; p99: number | null; n: number } | null;
}

/** CPU is measured between 'start' and 'end'; the primary's RSS is read at every mark. */
export type MarkName = 'start' | 'half' | 'end';

/** Orchestrator -> client. */
export type ToClient =
  | { type: 'run'; workload: WorkloadName; params: WorkloadParams }
  | { type: 'mark-ack' };

/** Client -> orchestrator. */
export type FromClient =
  | { type: 'mark'; name: MarkName }
  | { type: 'result'; result: WorkloadResult }
  | { type: 'error'; message: string };

/** Everything a workload may need; each reads its own fields. */
export interface WorkloadParams {
  url: string;
  host: string;
  port: number;
  /** Client source addresses, used round-robin by client index. */
  addresses: readonly string[];
  /** Clients (or sessions) to run. */
  count: number;
  /** Max operations in flight while connecting. */
  concurrency: number;
  /** Measured-phase length for timed workloads. */
  durationMs: number;
  /** A session or request with no answer after this is hung. */
  deadlineMs: number;
  transports: 'polling' | 'default' | 'websocket';
  /** Keep every client connected until all are in (balance), instead of leaving at once. */
  hold: boolean;
  /** Sessions run before the measured phase (footprint). */
  warmup: number;
  /** Offered rate, new connections per second (handoff-latency; 0 elsewhere). */
  rate: number;
}

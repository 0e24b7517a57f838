/**
 * The primary <-> worker protocol: what each message means, independent of how it travels
 * (Node's IPC channel, with socket handles attached where noted; `handoff` and `handoff-reply`
 * travel in binary on the worker's handoff lane once it is up, ./lane.ts).
 *
 * Every message carries `tag: 'corral'` so it coexists with other users of the channel
 * (Node's own `NODE_*` commands, `@socket.io/cluster-adapter`'s `socket.io-adapter` messages).
 * Every handle sent is answered, matched by `seq`, so the sender always knows whether the
 * other side took it.
 */
export const TAG = 'corral';

/** What the primary tells a worker about one live slot. */
export interface SlotInfo {
  slot: number;
  /** Unix socket of the worker's internal server, for requests of its sessions that reach a peer. */
  forwardPath: string;
}

/**
 * How long a handed-off connection (or a relayed upgrade) may wait for the other side to take
 * it. The receiver refuses one it reads past its `deadline` (wall-clock ms, one machine, one
 * clock), so the sender can route it elsewhere once the deadline has passed without ever
 * racing a late acceptance.
 */
export const HANDOFF_DEADLINE_MS = 2000;

/**
 * What a client is told when the worker holding its session is unresponsive, by the primary or
 * by a peer worker alike: 503, retry after this many seconds, and why.
 */
export const STALLED_RETRY_AFTER_S = 2;
export const STALLED_MESSAGE = 'corral: the worker that holds this session is not responding; retry shortly.';

/** A client's address as a PROXY header gave it (the socket's own peer is the proxy). */
export interface ClientAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/** socket.io's state of a socket, as connection-state recovery persists and restores it. */
export interface RecoverySession {
  sid: string;
  pid: string;
  rooms: string[];
  data: unknown;
}

/**
 * A broadcast of `@socket.io/cluster-adapter` (socket.io-adapter's `ClusterMessage` of type
 * BROADCAST, without an ack), the part the primary reads to log it.
 */
export interface AdapterBroadcast {
  uid: string;
  nsp: string;
  type: number;
  data: { packet: { type: number; data: unknown[]; nsp?: string }; opts: { rooms: string[]; except: string[]; flags?: Record<string, unknown> } };
}

/** The cluster adapter's own message source: what its workers listen for. */
export const ADAPTER_SOURCE = '_sio_adapter';

/** A logged broadcast on its way to the other workers, in the cluster adapter's own form, with its offset. */
export type AdapterRelay = AdapterBroadcast & { source: typeof ADAPTER_SOURCE; offset: string };

/** Primary -> worker. */
export type ToWorker =
  /**
   * A client connection; the handle rides along. `bytes` (base64) were read by the primary;
   * `client`, when a PROXY header named it, is what the app sees as the remote address.
   */
  | { tag: typeof TAG; type: 'handoff'; seq: number; bytes: string; relayed: boolean; deadline: number; client?: ClientAddress }
  /** The live, ready slots, and the slots whose worker is unresponsive; sent whenever either changes. */
  | { tag: typeof TAG; type: 'slots'; slots: SlotInfo[]; unresponsive: number[] }
  /** Answer to a worker's `relay`: the primary holds the connection now (or refused it). */
  | { tag: typeof TAG; type: 'relay-reply'; seq: number; accepted: boolean }
  /** Heartbeat: answered with a `pong` of the same `seq` from the worker's event loop. */
  | { tag: typeof TAG; type: 'ping'; seq: number }
  /** Send the app's prom-client metrics (`metrics-reply` with the same `seq`). */
  | { tag: typeof TAG; type: 'metrics'; seq: number }
  /** Stop taking connections, finish what is in flight, then exit. */
  | { tag: typeof TAG; type: 'drain'; deadlineMs: number }
  /** Answer to `recovery-broadcast`: the packet's offset in the host's log. */
  | { tag: typeof TAG; type: 'recovery-offset'; seq: number; offset: string }
  /** Answer to `recovery-restore`: the session and what it missed, or null (not recoverable). */
  | { tag: typeof TAG; type: 'recovery-restored'; seq: number; session: (RecoverySession & { missedPackets: unknown[][] }) | null }
  /** Its client came back elsewhere: close this socket (its state is persisted as it closes), then answer `recovery-released`. */
  | { tag: typeof TAG; type: 'recovery-release'; seq: number; nsp: string; sid: string };

/** Worker -> primary. */
export type ToPrimary =
  /** Answer to a `handoff`. */
  | { tag: typeof TAG; type: 'handoff-reply'; seq: number; accepted: boolean }
  /** Answer to a `ping`. */
  | { tag: typeof TAG; type: 'pong'; seq: number }
  /** The app's server listens (through corral) and the forwarding server is up. */
  /** `lanePath`: the worker's private IPC pipe for handoffs (src/internal/lane.ts), absent when this Node has none. */
  | { tag: typeof TAG; type: 'ready'; forwardPath: string; lanePath?: string }
  /** The app's `listen()` named this host (an IP, never a wildcard): serve that address only. */
  | { tag: typeof TAG; type: 'listen-host'; host: string }
  /** The app closed its server: route nothing more here. */
  | { tag: typeof TAG; type: 'not-listening' }
  /** Open connections now, and handoffs taken in all (lets the primary count those in flight). */
  | { tag: typeof TAG; type: 'load'; connections: number; taken: number }
  /** `attach(io)` saw an Engine.IO server on this path; the primary reads `sid` only there. */
  | { tag: typeof TAG; type: 'engine-path'; path: string }
  /** A WebSocket upgrade for another slot's session; the handle rides along, with the client's address when a PROXY header named it. */
  | { tag: typeof TAG; type: 'relay'; seq: number; slot: number; bytes: string; deadline: number; client?: ClientAddress }
  /**
   * Every second: resident set size (bytes), CPU time used in all (microseconds), and in all
   * the requests forwarded to other workers and the upgrades relayed to them (keep-alive
   * connections that carried another worker's session).
   */
  | { tag: typeof TAG; type: 'stats'; rss: number; cpuMicros: number; forwarded: number; relayed: number; sessions: number }
  /**
   * Answer to `metrics`: the app's prom-client registry as `getMetricsAsJSON()` gives it ([]
   * when the app has no prom-client), and its open Engine.IO sessions.
   */
  | { tag: typeof TAG; type: 'metrics-reply'; seq: number; metrics: unknown[]; sessions: number }
  /** Connection-state recovery is on for this namespace, with this `maxDisconnectionDuration`. */
  | { tag: typeof TAG; type: 'recovery-config'; nsp: string; ttlMs: number }
  /** A broadcast to log and relay to the other workers; answered by `recovery-offset`. */
  | { tag: typeof TAG; type: 'recovery-broadcast'; seq: number; message: AdapterBroadcast }
  /**
   * A socket's rooms, mirrored: `open` (it connected; `rooms` are all of them), `join`,
   * `leave`, `close` (gone for good, or persisted just before).
   */
  | { tag: typeof TAG; type: 'recovery-socket'; op: 'open' | 'join' | 'leave' | 'close'; nsp: string; sid: string; pid?: string; rooms: string[] }
  /** A socket left in a way its client recovers from: keep its state. */
  | { tag: typeof TAG; type: 'recovery-persist'; nsp: string; session: RecoverySession }
  /** Answer to `recovery-release`: the socket is closed (and persisted) or was already gone. */
  | { tag: typeof TAG; type: 'recovery-released'; seq: number }
  /** A reconnecting client asks for its session back; answered by `recovery-restored`. */
  | { tag: typeof TAG; type: 'recovery-restore'; seq: number; nsp: string; pid: string; offset: string }
  /** The worker drained and exits now: sent last, so that its write completing means every earlier message is out. */
  | { tag: typeof TAG; type: 'exiting' }
  /** Something the operator should read, logged by the primary with the worker's name; `once`: the same text from any worker is logged once. */
  | { tag: typeof TAG; type: 'warn'; message: string; once?: boolean };

export type Message = ToWorker | ToPrimary;

/** Narrow an unknown IPC message to one of ours. */
export function isCorralMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === TAG;
}

import { createAdapterFactory } from './adapters';
import { generateSid, normalizeEnginePath, slotOfSid } from './protocol/sid';
import { currentRuntime, type WorkerRuntime } from './worker/runtime';

/** The part of an Engine.IO server corral touches. */
export interface EngineLike {
  generateId: (req: never) => string | PromiseLike<string>;
  on(event: 'connection', listener: (socket: { id: string }) => void): unknown;
  close(): unknown;
}

/** The part of a Socket.IO `Server` corral touches (socket.io 4.x). */
export interface SocketIOServerLike {
  /** Present once the server is attached to an HTTP server. */
  engine?: EngineLike;
  path(): string;
  adapter(factory: never): unknown;
  bind(engine: never): unknown;
}

const ATTACHED = Symbol.for('corral.attached');

/**
 * Make a Socket.IO server cluster-aware. Inside a corral worker, it
 * - makes every Engine.IO session id carry this host's id and this worker's slot, so the
 *   primary routes each request of a session to its worker without keeping a table (and a
 *   front balancer, to its host);
 * - installs the adapter chosen with `--adapter`: `@socket.io/cluster-adapter` by default
 *   (corral's primary relays its messages), or socket.io's Redis or Redis-streams adapter
 *   across hosts, so broadcasts, rooms and acks reach the clients of every worker;
 * - with `connectionStateRecovery` on the server, makes recovery work across workers: on the
 *   cluster adapter the primary keeps the packet log and the sessions, so a client that comes
 *   back on any worker (after a reload, a scale-down, even a `kill -9`) gets its id, rooms,
 *   `socket.data` and missed packets;
 * - tells corral the Engine.IO path, and lets corral close the sessions on shutdown.
 *
 * Outside corral (`node app.js`) it does nothing, so the same app runs on one process.
 * Call it once per server, before clients connect; calling it again is harmless.
 *
 * @example
 * const io = new Server(httpServer);
 * attach(io);
 * httpServer.listen(process.env.PORT ?? 3000);
 */
export function attach<T extends SocketIOServerLike>(io: T): T {
  const runtime = currentRuntime();
  if (runtime === undefined) return io;
  const marked = io as T & { [ATTACHED]?: boolean };
  if (marked[ATTACHED]) return io;
  marked[ATTACHED] = true;

  // socket.io's own getter of its options (public since 4.6), where `connectionStateRecovery` turns recovery on.
  const options = (io as { _opts?: { connectionStateRecovery?: unknown } })._opts;
  const recovery = options?.connectionStateRecovery ? () => runtime.recoveryLink() : undefined;
  io.adapter(createAdapterFactory(runtime.env, (message) => runtime.warn(message), recovery) as never);
  if (io.engine !== undefined) patchEngine(io.engine, runtime);
  // socket.io binds its engine when attached to an HTTP server: catch engines bound later.
  const bind = io.bind.bind(io);
  io.bind = (engine: never) => {
    patchEngine(engine as EngineLike, runtime);
    return bind(engine);
  };
  runtime.addEnginePath(normalizeEnginePath(io.path()), {
    drain: () => io.engine?.close(),
    sessions: () => (io.engine as { clientsCount?: number } | undefined)?.clientsCount ?? 0,
  });
  return io;
}

function patchEngine(engine: EngineLike, runtime: WorkerRuntime): void {
  const slot = runtime.slot;
  const host = runtime.env.hostId;
  const hostPrefix = `${host}.`;
  engine.generateId = () => generateSid(host, slot);
  let warned = false;
  engine.on('connection', (socket) => {
    // An app that sets its own generateId after attach() breaks stickiness: say so once.
    if (!warned && slotOfSid(socket.id, hostPrefix) !== slot) {
      warned = true;
      runtime.warn(`Engine.IO session id "${socket.id}" does not carry this worker's slot: something replaced io.engine.generateId after attach(io). Sessions will not stick; let corral generate the ids.`);
    }
  });
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv6, Server as NetServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { boundHeadTime } from '../internal/http';
import { atConnectionLimit, isWildcard, showRemote, type RemoteAddress } from '../internal/net';
import { checkIpcPipes, listenIpcPipe } from '../internal/ipc-pipe';
import { Lane } from '../internal/lane';
import type { RawHandle } from '../internal/raw-handle';
import { trace } from '../log';
import { encodeReply } from '../protocol/lane';
import { RecoveryLink } from '../recovery/link';
import { isCorralMessage, STALLED_MESSAGE, STALLED_RETRY_AFTER_S, TAG, type ToPrimary, type ToWorker } from '../protocol/messages';
import type { WorkerEnv } from '../protocol/worker-env';
import { Intake } from './intake';
import { RequestOwners } from './owners';
import { CookieRouter, createRouter, EngineSessions, type SlotCookies } from '../routing';
import { appendSetCookie } from './set-cookie';
import { Forwarder, readClientHeader } from './forwarder';
import { hookListen } from './listen-hook';
import { Relay } from './relay';
import { StandInHandle } from './stand-in';
import { StopSignals } from './signals';
import { AppMetrics } from './app-metrics';

const EMPTY = Buffer.alloc(0);
/** Coalesce load reports: the primary needs a recent figure, not one per connection. */
const LOAD_REPORT_MS = 20;
const STATS_MS = 1000;
/**
 * A draining worker closes keep-alive connections idle this long. Busy ones close cleanly with
 * `Connection: close` on their next response; an idle one is closed only after a while, since
 * a client may be sending its next request on it at the very moment we close it (clients
 * that park a socket in their pool for long are the ones that can still lose that race).
 */
const IDLE_GRACE_MS = 1000;
/** A worker that exits waits at most this for its last messages to be written to the primary. */
const FLUSH_DEADLINE_MS = 1000;

type Emit = (this: Server, event: string | symbol, ...args: unknown[]) => boolean;

/** Something to stop on drain (an attached Socket.IO server). */
export interface Drainable {
  drain(): void;
  /** Open Engine.IO sessions (for metrics). */
  sessions(): number;
}

/**
 * Everything corral does inside a worker process: takes handed-off connections, serves the
 * app's `listen()` on the public port, sends requests of other slots' sessions to their
 * owners, reports load, drains on request.
 */
export class WorkerRuntime {
  readonly env: WorkerEnv;
  readonly #intake = new Intake(() => this.#scheduleLoadReport());
  readonly #forwarder = new Forwarder();
  readonly #relay: Relay;
  /** Engine.IO paths of this worker's attached Socket.IO servers: where `sid` means a session. */
  readonly #sessions: EngineSessions;
  /** Which worker each request belongs to. */
  readonly #owners: RequestOwners;
  /** `--sticky cookie`: the cookies this worker issues to new visitors. */
  readonly #cookies: SlotCookies | undefined;
  readonly #drainables: Drainable[] = [];
  readonly #appMetrics: AppMetrics;
  /** SIGINT, SIGHUP, SIGTERM: the primary's to act on; the app's listeners run once drained. */
  readonly #signals = new StopSignals();
  #server: Server | undefined;
  #standIn: StandInHandle | undefined;
  #emit: Emit | undefined;
  #loadTimer: NodeJS.Timeout | undefined;
  #draining = false;
  #forwardPath = '';
  /** Where this worker listens for its handoff lane from the primary (src/internal/lane.ts), and the lane once connected. */
  #lanePath: string | undefined;
  #laneListener: { close(): void } | undefined;
  #lane: Lane | undefined;
  #listening = false;
  #appReady = false;
  /** Socket.IO connection-state recovery's line to the primary, once an attached server uses it. */
  #recovery: RecoveryLink | undefined;
  /** Requests and upgrades of other slots' sessions passed on, in all. */
  #forwarded = 0;
  #relayed = 0;

  constructor(env: WorkerEnv) {
    this.env = env;
    this.#sessions = new EngineSessions(env.hostId);
    const router = createRouter(env, this.#sessions);
    this.#owners = new RequestOwners(env.slot, router);
    this.#cookies = router instanceof CookieRouter ? router.cookies : undefined;
    this.#relay = new Relay((message, handle) => this.send(message, handle));
    this.#appMetrics = new AppMetrics(env.app);
  }

  get slot(): number {
    return this.env.slot;
  }

  /** Take over the app's listen on the public port and the primary's messages. */
  install(): void {
    this.#signals.install();
    this.#acceptPm2Ready();
    hookListen(this.env.port, (server, host) => this.#claim(server, host), (other) => this.#listensElsewhere(other));
    process.on('message', (message: unknown, handle: RawHandle | undefined) => {
      if (isCorralMessage(message)) this.#onMessage(message as ToWorker, handle);
    });
    const stats = setInterval(() => {
      const cpu = process.cpuUsage();
      this.send({ tag: TAG, type: 'stats', rss: process.memoryUsage.rss(), cpuMicros: cpu.user + cpu.system, forwarded: this.#forwarded, relayed: this.#relayed, sessions: this.#drainables.reduce((n, d) => n + d.sessions(), 0) });
    }, STATS_MS);
    stats.unref();
  }

  /**
   * PM2's readiness signal, `process.send('ready')`, counts as `ready()`: an app written for
   * PM2's wait_ready runs unchanged. The message still goes out (the primary ignores it).
   */
  #acceptPm2Ready(): void {
    const send = process.send;
    if (send === undefined) return;
    const runtime = this;
    process.send = function sendWatchingReady(this: NodeJS.Process, message: unknown, ...rest: unknown[]): boolean {
      if (message === 'ready') runtime.appReady();
      return (send as (...args: unknown[]) => boolean).call(this, message, ...rest);
    } as NodeJS.Process['send'];
  }

  /** The app says it is warmed up (`ready()`); with `--wait-ready`, only then does it get connections. */
  appReady(): void {
    if (this.#appReady) return;
    this.#appReady = true;
    this.#announceReady();
  }

  send(message: ToPrimary, handle?: RawHandle): void {
    if (process.send === undefined || !process.connected) return;
    if (handle === undefined) process.send(message);
    else process.send(message, handle as never);
  }

  /** What a recovering Socket.IO adapter tells and asks the primary through (one per worker). */
  recoveryLink(): RecoveryLink {
    this.#recovery ??= new RecoveryLink((message) => this.send(message), (message) => this.warn(message));
    return this.#recovery;
  }

  /** `attach(io)` saw an Engine.IO server on `path` (normalized): sessions there carry our slot. */
  addEnginePath(path: string, drainable: Drainable): void {
    this.#drainables.push(drainable);
    if (!this.#sessions.addPath(path)) return;
    this.send({ tag: TAG, type: 'engine-path', path });
  }

  warn(message: string): void {
    this.send({ tag: TAG, type: 'warn', message });
  }

  /**
   * The app listens on a port that is not corral's. A second server (metrics, admin) is fine;
   * before the app has listened on corral's port it is most likely a hard-coded port, which
   * would only end in `--ready-timeout`: say so at once.
   */
  #listensElsewhere(other: number): void {
    if (this.#server !== undefined) return;
    this.send({ tag: TAG, type: 'warn', once: true, message: `the app listened on port ${other}, but corral serves port ${this.env.port}: its workers get connections only once the app listens on ${this.env.port}. Listen on process.env.PORT (corral sets it), or run corral with --port ${other}. (A second server on ${other}, such as metrics, is fine once the main one listens on ${this.env.port}.)` });
  }

  #claim(server: Server, host: string | undefined): StandInHandle | undefined {
    if (this.#server !== undefined) return undefined;
    this.#server = server;
    // An app that names its host (`listen(3000, '127.0.0.1')`) is served there only: the primary
    // narrows its listener to it, or refuses when --host says otherwise.
    const named = host !== undefined && !isWildcard(host);
    if (named) this.send({ tag: TAG, type: 'listen-host', host });
    this.#interceptEmit(server);
    // --head-timeout covers the whole head, not only the request line the primary reads: a
    // client dripping header bytes (or an HTTP/0.9 `GET /`) gets Node's own 408 after it.
    boundHeadTime(server, this.env.headTimeout);
    this.#standIn = new StandInHandle(
      named ? { address: host, family: isIPv6(host) ? 'IPv6' : 'IPv4', port: this.env.port } : this.env.address,
      () => void this.#becomeReady(),
      () => this.send({ tag: TAG, type: 'not-listening' }),
    );
    return this.#standIn;
  }

  async #becomeReady(): Promise<void> {
    this.#forwardPath = join(this.env.runtimeDir, `s${this.slot}-${process.pid}.sock`);
    await this.#forwarder.listen(this.#forwardPath, (req, res) => this.#serveForwarded(req, res));
    await this.#offerLane();
    this.#listening = true;
    this.#announceReady();
  }

  /** Listen for the primary's handoff lane; without IPC pipes on this Node, handoffs keep to Node's channel. */
  async #offerLane(): Promise<void> {
    // Offered once: a server that listens again later is still reached on the same lane.
    if (this.#laneListener !== undefined) return;
    const missing = process.env['CORRAL_HANDOFF_LANE'] === '0' ? 'CORRAL_HANDOFF_LANE=0' : checkIpcPipes();
    if (missing !== undefined) {
      trace.worker('slot %d: no handoff lane: %s', this.slot, missing);
      return;
    }
    const path = join(this.env.runtimeDir, `h${this.slot}-${process.pid}.sock`);
    try {
      this.#laneListener = await listenIpcPipe(path, (pipe) => {
        this.#lane = new Lane(
          pipe,
          (frame, handle) => {
            if (frame.kind !== 'handoff') return;
            this.#onHandoff(frame.seq, frame.bytes, frame.relayed, frame.deadline, frame.client, handle, (seq, accepted) => this.#lane?.send(encodeReply(seq, accepted), undefined, () => undefined));
          },
          () => (this.#lane = undefined),
        );
      });
      this.#lanePath = path;
    } catch (err) {
      trace.worker('slot %d: no handoff lane: %s', this.slot, (err as Error).message);
    }
  }

  #announceReady(): void {
    if (!this.#listening || (this.env.waitReady && !this.#appReady)) return;
    trace.worker('slot %d ready, forwarding server on %s', this.slot, this.#forwardPath);
    const ready: Extract<ToPrimary, { type: 'ready' }> = { tag: TAG, type: 'ready', forwardPath: this.#forwardPath };
    if (this.#lanePath !== undefined) ready.lanePath = this.#lanePath;
    this.send(ready);
  }

  /**
   * See every connection and request of the app's server first. socket.io and engine.io
   * take over existing `request`/`upgrade` listeners, so a prepended listener would not do:
   * the server's `emit` is the one place that sees them all.
   */
  #interceptEmit(server: Server): void {
    const emit = server.emit as Emit;
    this.#emit = emit;
    const runtime = this;
    server.emit = function interceptedEmit(this: Server, event: string | symbol, a?: unknown, b?: unknown, c?: unknown): boolean {
      switch (event) {
        case 'connection':
          runtime.#intake.onConnection(a as Socket);
          break;
        case 'request':
        case 'checkContinue':
          if (runtime.#draining) runtime.#closeAfter(b as ServerResponse);
          if (runtime.#forwardRequest(a as IncomingMessage, b as ServerResponse, event)) return true;
          break;
        case 'upgrade':
          runtime.#intake.upgraded(b as Socket);
          if (runtime.#relayUpgrade(a as IncomingMessage, b as Socket, c as Buffer)) return true;
          break;
      }
      // `arguments`: no array built per request on the hot path.
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(emit, this, arguments) as boolean;
    } as Server['emit'];
  }

  /** Draining: this response ends its keep-alive connection, cleanly, after it is sent. */
  #closeAfter(res: ServerResponse): void {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  #forwardRequest(req: IncomingMessage, res: ServerResponse, event: 'request' | 'checkContinue'): boolean {
    const owner = this.#owners.ownerOf(req);
    if (owner.kind === 'here') {
      if (this.#cookies !== undefined) this.#issueCookie(req, res);
      return false;
    }
    if (owner.kind === 'stalled') {
      // Its worker is stopped or blocked: say so and when to retry, rather than hang the client.
      res.writeHead(503, { 'retry-after': String(STALLED_RETRY_AFTER_S), 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${STALLED_MESSAGE}\n`);
      return true;
    }
    if (event === 'checkContinue') res.writeContinue();
    this.#forwarded++;
    this.#forwarder.forward(req, res, owner.path);
    return true;
  }

  #relayUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): boolean {
    if (this.#intake.isRelayed(socket)) return false;
    const owner = this.#owners.ownerOf(req);
    if (owner.kind === 'here') return false;
    if (owner.kind === 'stalled') {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${STALLED_RETRY_AFTER_S}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return true;
    }
    this.#relayed++;
    this.#relay.relay(owner.slot, req, socket, head, (rest) => this.#serveLocally('upgrade', req, socket, rest));
    return true;
  }

  /**
   * A visitor whose cookie names no live slot (new, forged, or its worker is gone) is this
   * worker's from now on: its response says so. One whose cookie names a live peer is here only
   * because its Engine.IO session is, and keeps its cookie.
   */
  #issueCookie(req: IncomingMessage, res: ServerResponse): void {
    const cookies = this.#cookies!;
    const named = cookies.slotOf(req.headers.cookie);
    if (named !== this.slot && !this.#owners.isLive(named)) appendSetCookie(res, cookies.setCookie(this.slot));
  }

  /** A request a peer passed on: it belongs here; the app sees the client's address, not the peer's socket. */
  #serveForwarded(req: IncomingMessage, res: ServerResponse): void {
    const client = readClientHeader(req);
    if (client !== undefined) showRemote(req.socket, client);
    if (this.#cookies !== undefined) this.#issueCookie(req, res);
    this.#serveLocally('request', req, res);
  }

  /** Hand a request to the app directly, past the forwarding check. */
  #serveLocally(event: 'request' | 'upgrade', ...args: unknown[]): void {
    const server = this.#server;
    if (server === undefined || this.#emit === undefined) return;
    this.#emit.apply(server, [event, ...args]);
  }

  #onMessage(message: ToWorker, handle: RawHandle | undefined): void {
    switch (message.type) {
      case 'handoff':
        this.#onHandoff(message.seq, message.bytes.length > 0 ? Buffer.from(message.bytes, 'base64') : EMPTY, message.relayed, message.deadline, message.client, handle, this.#answerOnChannel);
        return;
      case 'slots':
        this.#owners.update(message.slots, message.unresponsive);
        return;
      case 'ping':
        this.send({ tag: TAG, type: 'pong', seq: message.seq });
        return;
      case 'relay-reply':
        this.#relay.settle(message.seq, message.accepted);
        return;
      case 'drain':
        this.#drain(message.deadlineMs);
        return;
      case 'recovery-offset':
      case 'recovery-restored':
        this.#recovery?.settle(message);
        return;
      case 'recovery-release':
        this.#recovery?.release(message);
        return;
      case 'metrics':
        void this.#appMetrics.collect().then((metrics) => {
          const sessions = this.#drainables.reduce((n, d) => n + d.sessions(), 0);
          this.send({ tag: TAG, type: 'metrics-reply', seq: message.seq, metrics, sessions });
        });
        return;
    }
  }

  /**
   * Decide, then answer (as Node's cluster child does): a connection this worker cannot take
   * is refused before anything is said, so the primary routes it elsewhere rather than net
   * closing it (over `maxConnections`), and one read past its deadline is refused because the
   * primary may have routed it elsewhere already.
   */
  #onHandoff(seq: number, bytes: Buffer, relayed: boolean, deadline: number, client: RemoteAddress | undefined, handle: RawHandle | undefined, answer: (seq: number, accepted: boolean) => void): void {
    const standIn = this.#standIn;
    const onconnection = standIn !== undefined && standIn.listening ? standIn.onconnection : null;
    const take = handle !== undefined && onconnection !== null && !this.#draining && Date.now() <= deadline && !atConnectionLimit(this.#server);
    if (!take) {
      handle?.close();
      answer(seq, false);
      return;
    }
    answer(seq, true);
    this.#intake.deliver(onconnection.bind(standIn), handle, bytes, relayed, client);
  }

  /** Answer a handoff that came on Node's channel, on that channel. */
  readonly #answerOnChannel = (seq: number, accepted: boolean): void => this.send({ tag: TAG, type: 'handoff-reply', seq, accepted });

  #scheduleLoadReport(): void {
    if (this.#loadTimer !== undefined) return;
    this.#loadTimer = setTimeout(() => {
      this.#loadTimer = undefined;
      this.send({ tag: TAG, type: 'load', connections: this.#intake.connections, taken: this.#intake.taken });
    }, LOAD_REPORT_MS);
    this.#loadTimer.unref();
  }

  /**
   * Stop taking connections, let the app's server finish what it has, then exit.
   * The primary kills this process at the deadline if it is still here.
   */
  #drain(deadlineMs: number): void {
    if (this.#draining) return;
    this.#draining = true;
    trace.worker('slot %d draining (deadline %d ms)', this.slot, deadlineMs);
    for (const d of this.#drainables) d.drain();
    const server = this.#server;
    if (server === undefined || !server.listening) {
      this.#exit();
      return;
    }
    // Stops the handoffs (the stand-in tells the primary), waits for open connections.
    // net's close, not http's: http's closes every idle keep-alive connection at once, racing
    // clients that are sending their next request on one right now.
    NetServer.prototype.close.call(server, () => this.#exit());
    // Keep-alive connections go idle one by one as their last response ends.
    const sweep = setInterval(() => this.#intake.closeIdle(IDLE_GRACE_MS), 50);
    sweep.unref();
  }

  #exit(): void {
    this.#forwarder.close();
    this.#laneListener?.close();
    this.#lane?.close();
    // What was sent last (sessions persisted as their sockets closed) reaches the primary first.
    this.#flushed(() => {
      if (this.#signals.handOver()) return;
      process.exit(0);
    });
  }

  /** Run `then` once every message sent so far is written to the primary (or at a deadline, or now without a channel). */
  #flushed(then: () => void): void {
    if (process.send === undefined || !process.connected) return then();
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      then();
    };
    setTimeout(once, FLUSH_DEADLINE_MS).unref();
    process.send({ tag: TAG, type: 'exiting' } satisfies ToPrimary, undefined, undefined, once);
  }
}


const RUNTIME = Symbol.for('corral.worker.runtime');

/** The runtime of this process, when it is a corral worker (shared by every copy of corral loaded). */
export function currentRuntime(): WorkerRuntime | undefined {
  return (globalThis as { [RUNTIME]?: WorkerRuntime })[RUNTIME];
}

export function setRuntime(runtime: WorkerRuntime): void {
  (globalThis as { [RUNTIME]?: WorkerRuntime })[RUNTIME] = runtime;
}

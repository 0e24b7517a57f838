import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setupPrimary as setupAdapterRelay } from '@socket.io/cluster-adapter';
import { pingRedis, redactUrl } from '../adapters/redis-client';
import { RecoveryHub } from '../recovery/hub';
import { defaultControlPath, ensurePrivateDir, runtimeBase, sweepStale, workerDirPrefix } from '../control/paths';
import { CorralError } from '../errors';
import { checkRuntime } from '../internal/check';
import { peerAddress, type RawHandle } from '../internal/raw-handle';
import { normalizeAddress } from '../internal/net';
import { log } from '../log';
import type { Config } from '../options';
import type { PrimaryStatus, ReloadReport, WorkerStatus } from '../control/protocol';
import { serveControl, type Controllable } from '../control/server';
import { TAG, type ToPrimary } from '../protocol/messages';
import { createRouter, defaultSessions, IpRouter, stickyLabel, TrustList, type EngineSessions, type Reads, type Router } from '../routing';
import type { ProxySource } from '../protocol/proxy-header';
import { Supervisor } from '../supervisor/supervisor';
import { answerAndClose, closeQuietly } from './answer';
import { Dispatcher } from './dispatcher';
import { HeadReader, type HeadFailure, type HeadRead } from './head-reader';
import { listen, type Listener } from './listener';
import { readFdLimit } from './fd-limit';
import { SlotPorts } from './slot-ports';
import type { WorkerProcess } from '../supervisor/worker-process';
import { Handoff } from './handoff';
import { MetricsEndpoint } from './metrics';
import { announceDashboard, Dashboard } from './dashboard';

const EMPTY = Buffer.alloc(0);
/** The worker's entry script: sets corral up, then loads the app. */
const BOOTSTRAP = join(__dirname, '..', 'worker', 'bootstrap.js');

/** Client connections from one address that may wait for their request line at once... */
const MAX_PENDING_PER_ADDRESS = 256;
/** ...counted (one getpeername each) only once this many wait in all. */
const COUNT_ADDRESSES_FROM = 64;

/**
 * Bound the connections waiting for their request line to half the open-files limit: the rest
 * stays for connections being served, the workers' channels and the slot ports, so a flood of
 * silent sockets cannot starve them (past the limit libuv drops new connections without a
 * word). Node already raises its soft limit to the hard one at start; a low hard limit
 * (`ulimit -n 1024` sets both) is named here, with what to do.
 */
function pendingLimits(): { maxPending: number; maxPendingPerAddress: number; countAddressesFrom: number } {
  const limit = readFdLimit();
  if (limit !== undefined && limit.soft < 4096) {
    log.warn('limits.nofile', `the open files limit is ${limit.soft} (hard ${limit.hard}): every connection needs one, so this host serves at most about that many at once. Raise it (ulimit -Hn and -Sn, LimitNOFILE= in systemd, --ulimit nofile= in Docker).`);
  }
  const soft = limit?.soft ?? 1024;
  return { maxPending: Math.max(64, Math.min(65_536, Math.floor(soft / 2))), maxPendingPerAddress: MAX_PENDING_PER_ADDRESS, countAddressesFrom: COUNT_ADDRESSES_FROM };
}

/** How the primary ended: 0 every worker drained in time, 1 some had to be killed or the app could not run. */
export type ExitCode = 0 | 1;

/**
 * The primary process: owns the public port, reads at most a request line, hands each
 * connection to a ready worker. Keeping the workers alive is the supervisor's job.
 * It never loads the app.
 */
export class Primary implements Controllable {
  readonly config: Readonly<Config>;
  /** Engine.IO paths the workers announced: where a `sid` names a session. */
  readonly #sessions: EngineSessions;
  /** Made at start, once the port (which names `--sticky cookie`'s cookie) is bound. */
  #router: Router | undefined;
  /** `--trust-proxy`: who may send PROXY headers and whose `X-Forwarded-For` counts. */
  readonly #trust: TrustList;
  /** `--sticky ip` with trusted proxies: their connections' heads are read for `X-Forwarded-For`. */
  readonly #readsForwardedFor: boolean;
  readonly #supervisor: Supervisor;
  /** Made at start with the router; nothing reaches it before. */
  #dispatcher!: Dispatcher;
  /** A worker announced an attached Socket.IO server (or the missing attach(io) was pointed out). */
  #engineAnnounced = false;
  /** Hints workers send that are said once for all of them. */
  readonly #saidOnce = new Set<string>();
  /** The host the app's listen() named, once the listeners serve only it. */
  #appHost: string | undefined;
  /** `--metrics`: /metrics, /healthz, /readyz. */
  #metrics: MetricsEndpoint | undefined;
  /** Slot port connections whose PROXY header is being read: the slot each goes to. */
  readonly #pinnedReads = new Map<RawHandle, number>();
  /** Invalid or untrusted PROXY headers since the last warning (they come in storms too). */
  #proxyRefused = 0;
  #proxyWarnedAt = 0;
  /** Made at start, once the open-files limit (which bounds it) is known. */
  #heads: HeadReader | undefined;
  /** Connections closed unread because too many request lines were pending, since the last warning. */
  #busyRefused = 0;
  #busyWarnedAt = 0;
  #runtimeDir = '';
  #listener: Listener | undefined;
  #slotPorts: SlotPorts | undefined;
  #controlPath = '';
  #stopping: Promise<ExitCode> | undefined;
  /** Why the primary gave up by itself (every slot in a crash loop), if it did. */
  #failure: CorralError | undefined;
  #acceptErrors = 0;
  #warnedTls = false;
  #control: { close(): void } | undefined;
  /** Socket.IO connection-state recovery, on the embedded cluster adapter. */
  #recovery: RecoveryHub | undefined;
  readonly #startedAt = Date.now();
  #allReady: (() => void) | undefined;
  /** Settles the first time every worker is ready (never, if the app cannot start: see onStopped). */
  readonly allReady = new Promise<void>((resolve) => (this.#allReady = resolve));
  /** Told once the primary has stopped, whatever stopped it (signal, `corral stop`, crash loop). */
  onStopped: ((code: ExitCode, failure: CorralError | undefined) => void) | undefined;

  constructor(config: Readonly<Config>) {
    this.config = config;
    this.#sessions = defaultSessions(config.hostId);
    this.#trust = new TrustList(config.trustProxy);
    this.#readsForwardedFor = config.sticky === 'ip' && this.#trust.size > 0;
    this.#supervisor = new Supervisor(config, {
      message: (wp, message, handle) => this.#onMessage(wp, message, handle),
      ready: () => {
        this.#dispatcher.flush();
        if (this.#supervisor.readyWorkers().length >= this.config.workers) this.#allReady?.();
      },
      gone: (wp) => {
        this.#dispatcher.orphaned(wp);
        this.#recovery?.gone(wp);
      },
      answersLost: (wp) => this.#dispatcher.abandon(wp),
      allDown: (report) => this.#allDown(report),
      tick: (workers, now) => this.#dispatcher.expire(workers, now),
    });
  }

  /** The bound public address (after {@link start}). */
  get address(): Listener['address'] | undefined {
    return this.#listener?.address;
  }

  /** The control socket in use (after {@link start}). */
  get controlPath(): string {
    return this.#controlPath;
  }

  /**
   * Check Redis (when an adapter needs it), bind the public port and the slot ports, serve the
   * control socket, then start one worker per slot. Rejects, leaving nothing bound or
   * forked, when any of it fails.
   */
  async start(): Promise<void> {
    const { config } = this;
    checkRuntime(config.sticky !== 'ip' && config.sticky !== 'none' || config.proxyProtocol || this.#readsForwardedFor);
    if (config.adapter !== 'cluster') await pingRedis(config.redis);
    this.#heads = new HeadReader({
      maxBytes: config.maxHeadBytes,
      timeoutMs: config.headTimeout,
      ...pendingLimits(),
      wantAfterProxy: (handle, client) => this.#wantAfterProxy(handle, client),
      onHead: (handle, read) => this.#route(handle, read),
      onFail: (handle, reason, bytes, detail) => this.#headFailed(handle, reason, bytes, detail),
    });
    // Checked before anything is bound: a squatted directory must stop the start, not follow it.
    const base = runtimeBase();
    ensurePrivateDir(base);
    await sweepStale(base);
    this.#listener = await listen(config.port, config.host, (handle) => this.#accept(handle), (status) => this.#acceptFailed(status));
    const { address, port } = this.#listener.address;
    this.#controlPath = config.control || defaultControlPath(port, config.host);
    const cookieSecret = config.sticky === 'cookie' ? randomBytes(32).toString('hex') : '';
    const router = createRouter({ ...config, port, cookieSecret }, this.#sessions);
    this.#router = router;
    const supervisor = this.#supervisor;
    this.#dispatcher = new Dispatcher(
      router,
      {
        ready: () => supervisor.readyWorkers(),
        comingBack: (slot) => supervisor.comingBack(slot),
        unresponsive: (slot) => supervisor.unresponsive(slot),
        get anyUnresponsive() {
          return supervisor.anyUnresponsive;
        },
      },
      config.headTimeout,
    );
    try {
      if (config.slotPorts > 0) {
        this.#slotPorts = new SlotPorts(config.slotPorts, config.host, (handle, slot) => this.#acceptPinned(handle, slot), (status) => this.#acceptFailed(status));
        await this.#slotPorts.open(config.workers);
      }
      // Workers' internal sockets live here; mkdtemp makes it 0700.
      this.#runtimeDir = mkdtempSync(join(base, workerDirPrefix()));
      this.#control = await serveControl(this.#controlPath, this);
      if (config.metrics > 0) await this.#serveMetrics();
    } catch (err) {
      this.#listener.server.close();
      this.#slotPorts?.close();
      this.#control?.close();
      this.#metrics?.close();
      if (this.#runtimeDir !== '') rmSync(this.#runtimeDir, { recursive: true, force: true });
      throw err;
    }
    if (config.adapter === 'cluster') {
      setupAdapterRelay();
      this.#recovery = new RecoveryHub(config.recoveryMemory, () => this.#supervisor.liveWorkers());
    }
    this.#supervisor.start(this.#listener.address, this.#runtimeDir, BOOTSTRAP, cookieSecret);
    if (config.trustProxy.length > 0 && !config.proxyProtocol && !this.#readsForwardedFor) {
      log.warn('config.trust-proxy-unused', `--trust-proxy changes nothing here: only --sticky ip routes by the client's address, and without --proxy-protocol corral learns it from X-Forwarded-For for that alone. The header still reaches the app.`);
    }
    const slots = config.slotPorts > 0 ? `, slot ports ${config.slotPorts}-${config.slotPorts + config.workers - 1}` : '';
    const adapter = config.adapter === 'cluster' ? 'cluster (IPC)' : `${config.adapter} ${redactUrl(config.redis)}`;
    log.info('primary.listening', `primary (pid ${process.pid}) listening on ${address}:${port}${slots}, ${config.workers} ${config.workers === 1 ? 'worker' : 'workers'}, sticky=${stickyLabel(config)}${this.#frontDoor()}, host id ${config.hostId}, adapter ${adapter}, app ${config.app}; control socket ${this.#controlPath}`);
  }

  primaryStatus(): PrimaryStatus {
    const { config } = this;
    return {
      pid: process.pid,
      host: this.address?.address ?? config.host ?? '',
      port: this.address?.port ?? config.port,
      slotPorts: config.slotPorts,
      hostId: config.hostId,
      adapter: config.adapter,
      sticky: stickyLabel(config),
      uptimeMs: Date.now() - this.#startedAt,
      app: config.app,
      name: config.name,
      workers: new Set(this.#supervisor.status().map((row) => row.slot)).size,
      handoffs: this.#dispatcher?.accepted ?? 0,
      ...(this.#recovery?.active === true ? { recovery: this.#recovery.stats() } : {}),
    };
  }

  /** One row per worker process, for `corral status`. */
  status(): WorkerStatus[] {
    return this.#supervisor.status();
  }

  /** Rolling reload, one slot at a time (SIGHUP, `corral reload`). */
  reload(): Promise<ReloadReport> {
    return this.#supervisor.reload().then((report) => {
      this.#metrics?.reloads.inc({ result: report.ok ? 'done' : 'failed' });
      return report;
    });
  }

  /** Change the number of worker slots (`corral scale N`); their slot ports follow. */
  scale(workers: number): void {
    const base = this.config.slotPorts;
    if (base > 0 && base + workers - 1 > 65535) {
      throw new CorralError('ERR_CORRAL_BAD_OPTION', `cannot scale to ${workers} workers: their slot ports would run past 65535 (--slot-ports ${base}); at most ${65536 - base}.`);
    }
    this.#supervisor.scale(workers);
    this.#slotPorts?.resize(workers);
  }

  /**
   * Stop accepting, let every worker drain within `killTimeout`, kill the rest.
   * Idempotent: a second call returns the same promise.
   */
  stop(): Promise<ExitCode> {
    if (this.#stopping === undefined) {
      this.#stopping = this.#shutdown();
      // Told a turn later: whoever awaits the stop (a `corral stop` waiting on the control
      // socket) hears the outcome before a listener that exits the process.
      void this.#stopping.then((code) => setImmediate(() => this.onStopped?.(code, this.#failure)));
    }
    return this.#stopping;
  }

  /** Kill every worker now (a second Ctrl-C). */
  kill(): void {
    this.#supervisor.kill();
  }

  async #serveMetrics(): Promise<void> {
    const supervisor = this.#supervisor;
    const dashboard = this.config.dashboard ? new Dashboard(this) : undefined;
    const metrics = new MetricsEndpoint(
      {
        status: () => supervisor.status(),
        live: () => supervisor.liveWorkers(),
        ready: () => this.#stopping === undefined && supervisor.readyWorkers().length > 0,
        recovery: () => (this.#recovery?.active === true ? this.#recovery.stats() : undefined),
      },
      dashboard,
    );
    try {
      await metrics.listen(this.config.metrics, this.config.metricsHost);
    } catch (err) {
      throw new CorralError('ERR_CORRAL_LISTEN_FAILED', `cannot serve metrics on ${this.config.metricsHost}:${this.config.metrics}: ${(err as Error).message}. Choose another --metrics port.`, { cause: err });
    }
    this.#metrics = metrics;
    this.#dispatcher.observer = {
      answered: (handoff, accepted) => {
        metrics.handoffs.inc({ result: accepted ? 'accepted' : 'refused' });
        if (accepted) metrics.handoffSeconds.observe((performance.now() - handoff.acceptedAt) / 1000);
      },
      unanswered: (result) => metrics.handoffs.inc({ result }),
    };
    const base = `http://${this.config.metricsHost.includes(':') ? `[${this.config.metricsHost}]` : this.config.metricsHost}:${metrics.address?.port}`;
    log.info('metrics.listening', `metrics on ${base}/metrics (and /healthz, /readyz)`, { port: metrics.address?.port });
    if (dashboard !== undefined) announceDashboard(base, dashboard.token);
  }

  /** How the primary learns the client: for the start line. */
  #frontDoor(): string {
    const { config } = this;
    const trusted = config.trustProxy.length > 0 ? ` from ${config.trustProxy.join(',')}` : '';
    if (config.proxyProtocol) return `, PROXY protocol${trusted}`;
    return this.#readsForwardedFor ? `, X-Forwarded-For${trusted}` : '';
  }

  #accept(handle: RawHandle): void {
    if (this.#stopping !== undefined) {
      closeQuietly(handle);
      return;
    }
    const heads = this.#heads!;
    const router = this.#router!;
    if (this.config.proxyProtocol) {
      const trusted = this.#trust.size === 0 || this.#trust.trusts(peerAddress(handle));
      // An untrusted peer is a client: what it sends is HTTP, and never a PROXY header.
      const want = this.#readsForwardedFor ? (trusted ? 'client' : 'nothing') : router.reads;
      heads.read(handle, trusted ? 'expect' : 'forbid', want);
      return;
    }
    if (this.#readsForwardedFor) {
      const peer = peerAddress(handle);
      if ((router as IpRouter).readsHeadFrom(peer)) heads.read(handle, 'off', 'head');
      else this.#dispatcher.dispatch(new Handoff(handle, EMPTY, peer));
      return;
    }
    if (router.reads !== 'nothing') {
      heads.read(handle, 'off', router.reads);
      return;
    }
    // getpeername is a system call: only the ip strategy needs the address.
    this.#dispatcher.dispatch(new Handoff(handle, EMPTY, router.name === 'ip' ? peerAddress(handle) : ''));
  }

  /** After a PROXY header (ip routing with trusted proxies): read the head only if the client it names is a trusted proxy too. */
  #wantAfterProxy(handle: RawHandle, client: ProxySource | undefined): Reads {
    return this.#trust.trusts(client?.address ?? peerAddress(handle)) ? 'head' : 'nothing';
  }

  #route(handle: RawHandle, read: HeadRead): void {
    const { bytes } = read;
    const slot = this.#pinnedReads.get(handle);
    if (slot !== undefined) {
      this.#pinnedReads.delete(handle);
      this.#dispatchPinned(handle, bytes, slot, read.client);
      return;
    }
    if (!this.#warnedTls && bytes[0] === 0x16 && bytes[1] === 0x03) {
      this.#warnedTls = true;
      log.warn('input.tls', `a TLS handshake reached the primary: with --sticky ${stickyLabel(this.config)} the primary must read the request, which TLS hides. Terminate TLS in front of corral, or use --sticky ip.`);
    }
    const address = this.#router!.name === 'ip' ? (read.client?.address ?? peerAddress(handle)) : '';
    const handoff = new Handoff(handle, bytes, address, read);
    if (!this.#engineAnnounced) this.#hintAttach(handoff);
    this.#dispatcher.dispatch(handoff);
  }

  /**
   * Engine.IO session ids that corral did not issue, while no worker's app has called
   * `attach(io)`: the app forgot it, and its polling clients get "Session ID unknown" from
   * whichever worker a request lands on. Said once.
   */
  #hintAttach(handoff: Handoff): void {
    if (!this.#sessions.hasSid(handoff.url) || this.#sessions.slotOf(handoff.url) >= 0) return;
    this.#engineAnnounced = true;
    log.warn('hint.attach', "requests carry Engine.IO session ids that corral did not issue, and no worker's app called attach(io): a session's requests can reach any worker, which answers \"Session ID unknown\". In the app, after `const io = new Server(server)`, add `require('corral').attach(io)` (a no-op outside corral).");
  }

  /** A connection on the slot port of `slot`: that slot's, unread. */
  #acceptPinned(handle: RawHandle, slot: number): void {
    if (this.#stopping !== undefined) {
      closeQuietly(handle);
      return;
    }
    if (this.config.proxyProtocol) {
      // The balancer starts these with a PROXY header too: read it (and nothing more), then hand off.
      this.#pinnedReads.set(handle, slot);
      const trusted = this.#trust.size === 0 || this.#trust.trusts(peerAddress(handle));
      this.#heads!.read(handle, trusted ? 'expect' : 'forbid', 'nothing');
      return;
    }
    this.#dispatchPinned(handle, EMPTY, slot, undefined);
  }

  #dispatchPinned(handle: RawHandle, bytes: Buffer, slot: number, client: ProxySource | undefined): void {
    const handoff = new Handoff(handle, bytes, '', { target: slot, client });
    handoff.pinned = true;
    this.#dispatcher.dispatch(handoff);
  }

  #headFailed(handle: RawHandle, reason: HeadFailure, bytes: Buffer, detail: string | undefined): void {
    this.#pinnedReads.delete(handle);
    // A client that hung up is no rejection.
    if (reason !== 'closed') this.#metrics?.headFailures.inc({ reason });
    if (reason === 'too-long') {
      answerAndClose(handle, 414, 'URI Too Long', `corral: the request line is longer than ${this.config.maxHeadBytes} bytes (--max-head-bytes).`);
    } else if (reason === 'head-too-long') {
      answerAndClose(handle, 431, 'Request Header Fields Too Large', `corral: the request head is longer than ${this.config.maxHeadBytes} bytes (--max-head-bytes); --sticky ${stickyLabel(this.config)} reads it whole.`);
    } else if (reason === 'proxy-invalid' || reason === 'proxy-untrusted') {
      closeQuietly(handle);
      this.#proxyRefused++;
      if (Date.now() - this.#proxyWarnedAt >= 10_000) {
        this.#proxyWarnedAt = Date.now();
        const why = reason === 'proxy-invalid'
          ? `no valid PROXY protocol header (${detail ?? 'invalid'}); with --proxy-protocol every connection${this.#trust.size > 0 ? ' from --trust-proxy' : ''} must start with one. Is the balancer set to send it (HAProxy: send-proxy-v2 on each server line)?`
          : 'a PROXY protocol header from a peer not in --trust-proxy; add the balancer\'s address to --trust-proxy if it is yours';
        log.warn('input.proxy-refused', `closed ${this.#proxyRefused} connection(s): ${why}`, { count: this.#proxyRefused });
        this.#proxyRefused = 0;
      }
    } else if (reason === 'busy' || reason === 'busy-address') {
      closeQuietly(handle);
      this.#busyRefused++;
      // Storms come by the thousand: one line every 10 s says how bad it is.
      if (Date.now() - this.#busyWarnedAt >= 10_000) {
        this.#busyWarnedAt = Date.now();
        log.warn('input.busy', `closing new connections unread (${this.#busyRefused} so far): ${reason === 'busy' ? 'too many connections are waiting to send their request line' : 'one client address holds too many connections that send nothing'} (a slowloris, or a flood). Clients that send their request promptly are still served.`);
        this.#busyRefused = 0;
      }
    } else if (reason === 'timeout' && bytes.length > 0) {
      answerAndClose(handle, 408, 'Request Timeout', `corral: no complete request line within ${this.config.headTimeout} ms (--head-timeout).`);
    } else {
      closeQuietly(handle);
    }
  }

  #acceptFailed(status: number): void {
    // EMFILE and friends come in storms: say it once per storm, not per connection.
    if (this.#acceptErrors++ % 1000 === 0) log.warn('accept.failed', `accepting a connection failed (libuv status ${status}); raise the open files limit (ulimit -n) if this repeats.`);
  }

  /** Messages about routing; the supervisor handles those about the worker's life. */
  #onMessage(wp: WorkerProcess, message: ToPrimary, handle: RawHandle | undefined): void {
    switch (message.type) {
      case 'handoff-reply':
        this.#dispatcher.settle(wp, message.seq, message.accepted);
        return;
      case 'engine-path':
        this.#engineAnnounced = true;
        this.#sessions.addPath(message.path);
        return;
      case 'relay':
        this.#relay(wp, message.seq, message.slot, message.bytes, message.deadline, message.client, handle);
        return;
      case 'warn':
        if (message.once !== true) log.warn('worker.warning', `${wp.name}: ${message.message}`, { slot: wp.slot });
        else if (!this.#saidOnce.has(message.message)) {
          this.#saidOnce.add(message.message);
          log.warn('hint', message.message);
        }
        return;
      case 'metrics-reply':
        this.#metrics?.settle(message.seq, message.metrics, message.sessions);
        return;
      case 'listen-host':
        void this.#onAppHost(wp, message.host);
        return;
      default:
        if (RecoveryHub.handles(message)) this.#recovery?.onMessage(wp, message);
        return;
    }
  }

  /** A worker passes on a WebSocket upgrade that belongs to another slot's session. */
  #relay(from: WorkerProcess, seq: number, slot: number, bytes: string, deadline: number, client: ProxySource | undefined, handle: RawHandle | undefined): void {
    // Past its deadline the worker has served it itself: take nothing.
    const accepted = handle !== undefined && this.#stopping === undefined && Date.now() <= deadline;
    from.message({ tag: TAG, type: 'relay-reply', seq, accepted });
    if (!accepted) {
      if (handle !== undefined) closeQuietly(handle);
      return;
    }
    this.#dispatcher.dispatch(new Handoff(handle, Buffer.from(bytes, 'base64'), '', { target: slot, relayed: true, client }));
  }

  /**
   * The app's `listen()` named a host. corral never serves wider than the app asked: bound to
   * every interface (no --host), it narrows its listeners to that address; bound elsewhere by
   * --host, or to another host an earlier worker named, it refuses and stops.
   */
  async #onAppHost(wp: WorkerProcess, host: string): Promise<void> {
    const listener = this.#listener;
    if (listener === undefined || this.#stopping !== undefined) return;
    const port = listener.address.port;
    const same = (a: string, b: string): boolean => normalizeAddress(a) === normalizeAddress(b);
    const bound = this.config.host !== undefined ? listener.address.address : this.#appHost;
    if (bound !== undefined) {
      if (same(bound, host)) return;
      const why = this.config.host !== undefined ? `corral was told --host ${this.config.host} (${bound})` : `another worker's app listens on ${bound}`;
      this.#failure = new CorralError('ERR_CORRAL_LISTEN_CONFLICT', `${wp.name}: the app listens on ${host}:${port}, but ${why}. Make them agree: drop the host from the app's listen() call, or run corral with --host ${host}.`);
      log.error(this.#failure.code === 'ERR_CORRAL_LISTEN_CONFLICT' ? 'listen.conflict' : 'listen.failed', `${this.#failure.message} [${this.#failure.code}]`);
      void this.stop();
      return;
    }
    this.#appHost = host;
    listener.server.close();
    try {
      this.#listener = await listen(port, host, (handle) => this.#accept(handle), (status) => this.#acceptFailed(status));
      if (this.#slotPorts !== undefined) {
        const count = this.#slotPorts.count;
        this.#slotPorts.close();
        this.#slotPorts = new SlotPorts(this.config.slotPorts, host, (handle, slot) => this.#acceptPinned(handle, slot), (status) => this.#acceptFailed(status));
        await this.#slotPorts.open(count);
      }
    } catch (err) {
      this.#failure = new CorralError('ERR_CORRAL_LISTEN_FAILED', `the app listens on ${host}:${port}, and corral could not serve that address: ${(err as Error).message}`);
      log.error(this.#failure.code === 'ERR_CORRAL_LISTEN_CONFLICT' ? 'listen.conflict' : 'listen.failed', `${this.#failure.message} [${this.#failure.code}]`);
      void this.stop();
      return;
    }
    if (this.#stopping !== undefined) {
      this.#listener.server.close();
      this.#slotPorts?.close();
      return;
    }
    this.#supervisor.serveAt(this.#listener.address);
    log.info('listen.narrowed', `the app listens on ${host}:${port}: corral serves that address only, not every interface (--host ${host} binds it from the start).`);
  }

  #allDown(report: string): void {
    this.#failure = new CorralError('ERR_CORRAL_WORKER_CRASH_LOOP', `giving up: ${report}`);
    log.error('crash-loop', `giving up [ERR_CORRAL_WORKER_CRASH_LOOP]: ${report}`);
    void this.stop();
  }

  async #shutdown(): Promise<ExitCode> {
    this.#listener?.server.close();
    this.#slotPorts?.close();
    this.#control?.close();
    this.#heads?.close();
    this.#dispatcher.close();
    // Probes see /readyz 503 while the workers drain; the endpoint closes after.
    const { killed, unclean } = await this.#supervisor.stop();
    this.#metrics?.close();
    this.#recovery?.close();
    if (killed.length > 0) log.warn('drain.killed', `killed ${killed.map((w) => w.name).join(', ')}: not drained within ${this.config.killTimeout} ms (--kill-timeout).`);
    for (const { worker, how } of unclean) log.warn('drain.unclean', `${worker.name} did not drain: it ${how} while draining; requests it held may have been cut.`);
    if (this.#runtimeDir !== '') rmSync(this.#runtimeDir, { recursive: true, force: true });
    return killed.length > 0 || unclean.length > 0 || this.#failure !== undefined ? 1 : 0;
  }
}

import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupPrimary as setupAdapterRelay } from '@socket.io/cluster-adapter';
import { peerAddress, type RawHandle } from '../internal/raw-handle';
import { log, trace } from '../log';
import type { Config } from '../options';
import { TAG, isCorralMessage, type SlotInfo, type ToPrimary } from '../protocol/messages';
import { createRouter, SidRouter, type Router } from '../routing';
import { Backoff } from '../supervisor/backoff';
import { answerAndClose, closeQuietly } from './answer';
import { Dispatcher } from './dispatcher';
import { HeadReader, type HeadFailure } from './head-reader';
import { listen, type Listener } from './listener';
import { WorkerProcess, type Handoff } from './worker-process';
import { workerEnv } from '../protocol/worker-env';

const EMPTY = Buffer.alloc(0);
/** The worker's entry script: sets corral up, then loads the app. */
const BOOTSTRAP = join(__dirname, '..', 'worker', 'bootstrap.js');
/** A worker up this long is healthy again: the next crash starts the backoff over. */
const MIN_UPTIME_MS = 1000;

interface Slot {
  readonly index: number;
  current: WorkerProcess | undefined;
  readonly backoff: Backoff;
  respawn: NodeJS.Timeout | undefined;
}

/** How the primary ended: 0 every worker drained in time, 1 some had to be killed. */
export type ExitCode = 0 | 1;

/**
 * The primary process: owns the public port, reads at most a request line, hands each
 * connection to a ready worker, keeps one worker per slot alive, and stops the tree.
 * It never loads the app.
 */
export class Primary {
  readonly config: Readonly<Config>;
  readonly #router: Router;
  readonly #slots: Slot[] = [];
  readonly #dispatcher: Dispatcher;
  readonly #heads: HeadReader;
  #runtimeDir = '';
  #listener: Listener | undefined;
  #stopping: Promise<ExitCode> | undefined;
  #acceptErrors = 0;
  #warnedTls = false;

  constructor(config: Readonly<Config>) {
    this.config = config;
    this.#router = createRouter(config.sticky);
    this.#dispatcher = new Dispatcher(this.#router, () => this.readyWorkers(), config.headTimeout);
    this.#heads = new HeadReader({
      maxBytes: config.maxHeadBytes,
      timeoutMs: config.headTimeout,
      onLine: (handle, bytes, line) => this.#route(handle, bytes, line),
      onFail: (handle, reason, bytes) => this.#headFailed(handle, reason, bytes),
    });
  }

  /** The bound public address (after {@link start}). */
  get address(): Listener['address'] | undefined {
    return this.#listener?.address;
  }

  /** Workers taking connections now, by slot. */
  readyWorkers(): WorkerProcess[] {
    const ready: WorkerProcess[] = [];
    for (const slot of this.#slots) if (slot.current?.state === 'ready') ready.push(slot.current);
    return ready;
  }

  /** Bind the port, then start one worker per slot. Rejects (binding nothing) on bad port/host. */
  async start(): Promise<void> {
    this.#listener = await listen(
      this.config.port,
      this.config.host,
      (handle) => this.#accept(handle),
      (status) => this.#acceptFailed(status),
    );
    // Workers' internal sockets live here; mkdtemp makes it 0700.
    this.#runtimeDir = mkdtempSync(join(tmpdir(), 'corral-'));
    cluster.setupPrimary({ exec: BOOTSTRAP, args: [...this.config.appArgs] });
    setupAdapterRelay();
    for (let i = 0; i < this.config.workers; i++) {
      const slot: Slot = { index: i, current: undefined, backoff: new Backoff(), respawn: undefined };
      this.#slots.push(slot);
      this.#fork(slot);
    }
    const { address, port } = this.#listener.address;
    log.info(`primary (pid ${process.pid}) listening on ${address}:${port}, ${this.config.workers} workers, sticky=${this.config.sticky}, app ${this.config.app}`);
  }

  /**
   * Stop accepting, let every worker drain within `killTimeout`, kill the rest.
   * Idempotent: a second call returns the same promise.
   */
  stop(): Promise<ExitCode> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  /** Kill every worker now (a second Ctrl-C). */
  kill(): void {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
  }

  #accept(handle: RawHandle): void {
    if (this.#stopping !== undefined) {
      closeQuietly(handle);
      return;
    }
    if (this.#router.readsHead) {
      this.#heads.read(handle);
      return;
    }
    this.#dispatcher.dispatch(this.#handoff(handle, EMPTY, undefined, -1));
  }

  #route(handle: RawHandle, bytes: Buffer, line: string): void {
    if (!this.#warnedTls && bytes[0] === 0x16 && bytes[1] === 0x03) {
      this.#warnedTls = true;
      log.warn('a TLS handshake reached the primary: with --sticky sid the primary must read the request, which TLS hides. Terminate TLS in front of corral, or use --sticky ip.');
    }
    this.#dispatcher.dispatch(this.#handoff(handle, bytes, line, -1));
  }

  /** `target` >= 0: a relayed upgrade that must reach that slot, and is never relayed again. */
  #handoff(handle: RawHandle, bytes: Buffer, line: string | undefined, target: number): Handoff {
    // getpeername is a system call: only the ip strategy needs the address.
    const remoteAddress = this.#router.name === 'ip' ? peerAddress(handle) : '';
    return { handle, bytes, line, target, relayed: target >= 0, remoteAddress, attempts: 0, waitingSince: 0 };
  }

  #headFailed(handle: RawHandle, reason: HeadFailure, bytes: Buffer): void {
    if (reason === 'too-long') {
      answerAndClose(handle, 414, 'URI Too Long', `corral: the request line is longer than ${this.config.maxHeadBytes} bytes (--max-head-bytes).`);
    } else if (reason === 'timeout' && bytes.length > 0) {
      answerAndClose(handle, 408, 'Request Timeout', `corral: no complete request line within ${this.config.headTimeout} ms (--head-timeout).`);
    } else {
      closeQuietly(handle);
    }
  }

  #acceptFailed(status: number): void {
    // EMFILE and friends come in storms: say it once per storm, not per connection.
    if (this.#acceptErrors++ % 1000 === 0) log.warn(`accepting a connection failed (libuv status ${status}); raise the open files limit (ulimit -n) if this repeats.`);
  }

  #fork(slot: Slot): void {
    slot.respawn = undefined;
    const worker = cluster.fork(workerEnv(this.config, slot.index, this.#listener!.address, this.#runtimeDir));
    const wp = new WorkerProcess(slot.index, worker);
    slot.current = wp;
    trace.primary('forked %s', wp.name);
    worker.on('message', (message: unknown, handle: RawHandle | undefined) => {
      if (isCorralMessage(message)) this.#onMessage(wp, message as ToPrimary, handle);
    });
    worker.on('exit', (code, signal) => this.#onExit(slot, wp, code, signal));
    worker.on('error', (err) => trace.primary('%s channel error: %s', wp.name, err.message));
  }

  #onMessage(wp: WorkerProcess, message: ToPrimary, handle: RawHandle | undefined): void {
    switch (message.type) {
      case 'handoff-reply':
        this.#dispatcher.settle(wp, message.seq, message.accepted);
        return;
      case 'load':
        wp.report(message.connections, message.taken);
        return;
      case 'ready':
        if (wp.state !== 'starting') return;
        wp.forwardPath = message.forwardPath;
        wp.state = 'ready';
        log.info(`${wp.name} ready: serving ${this.#url()}`);
        this.#announceSlots();
        this.#dispatcher.flush();
        return;
      case 'not-listening':
        if (wp.state === 'ready') {
          wp.state = 'draining';
          log.warn(`${wp.name} closed its server; it gets no more connections.`);
          this.#announceSlots();
        }
        return;
      case 'engine-path':
        if (this.#router instanceof SidRouter) this.#router.addPath(message.path);
        return;
      case 'relay':
        this.#relay(wp, message.seq, message.slot, message.bytes, handle);
        return;
      case 'warn':
        log.warn(`${wp.name}: ${message.message}`);
        return;
    }
  }

  /** A worker passes on a WebSocket upgrade that belongs to another slot's session. */
  #relay(from: WorkerProcess, seq: number, slot: number, bytes: string, handle: RawHandle | undefined): void {
    const accepted = handle !== undefined && this.#stopping === undefined;
    from.message({ tag: TAG, type: 'relay-reply', seq, accepted });
    if (!accepted) return;
    this.#dispatcher.dispatch(this.#handoff(handle, Buffer.from(bytes, 'base64'), undefined, slot));
  }

  #onExit(slot: Slot, wp: WorkerProcess, code: number | null, signal: string | null): void {
    const wasReady = wp.state === 'ready';
    wp.state = 'stopped';
    this.#dispatcher.orphaned(wp);
    if (wasReady) this.#announceSlots();
    if (slot.current !== wp) return;
    slot.current = undefined;
    if (this.#stopping !== undefined) return;
    if (Date.now() - wp.startedAt >= MIN_UPTIME_MS) slot.backoff.reset();
    const delay = slot.backoff.next();
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    log.warn(`${wp.name} ${how}; starting a new worker in slot ${slot.index} in ${delay} ms.`);
    slot.respawn = setTimeout(() => this.#fork(slot), delay);
  }

  #announceSlots(): void {
    const slots: SlotInfo[] = this.readyWorkers().map((w) => ({ slot: w.slot, forwardPath: w.forwardPath }));
    for (const s of this.#slots) s.current?.message({ tag: TAG, type: 'slots', slots });
  }

  #url(): string {
    const { address, family, port } = this.#listener!.address;
    return family === 'IPv6' ? `http://[${address}]:${port}` : `http://${address}:${port}`;
  }

  async #shutdown(): Promise<ExitCode> {
    this.#listener?.server.close();
    this.#heads.close();
    this.#dispatcher.close();
    const live: WorkerProcess[] = [];
    for (const slot of this.#slots) {
      if (slot.respawn !== undefined) clearTimeout(slot.respawn);
      slot.respawn = undefined;
      const wp = slot.current;
      if (wp === undefined || wp.state === 'stopped') continue;
      if (wp.state !== 'draining') wp.state = 'draining';
      wp.message({ tag: TAG, type: 'drain', deadlineMs: this.config.killTimeout });
      live.push(wp);
    }
    const killed = await drainOrKill(live, this.config.killTimeout);
    if (killed.length > 0) log.warn(`killed ${killed.map((w) => w.name).join(', ')}: not drained within ${this.config.killTimeout} ms (--kill-timeout).`);
    if (this.#runtimeDir !== '') rmSync(this.#runtimeDir, { recursive: true, force: true });
    return killed.length > 0 ? 1 : 0;
  }
}


/** Wait for these workers to exit; SIGKILL those still alive at the deadline. Returns the killed. */
function drainOrKill(workers: readonly WorkerProcess[], deadlineMs: number): Promise<WorkerProcess[]> {
  const alive = new Set(workers.filter((w) => w.worker.process.exitCode === null && w.worker.process.signalCode === null));
  if (alive.size === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      const killed = [...alive];
      for (const w of killed) w.worker.process.kill('SIGKILL');
      resolve(killed);
    }, deadlineMs);
    for (const w of alive) {
      w.worker.once('exit', () => {
        alive.delete(w);
        if (alive.size === 0) {
          clearTimeout(timer);
          resolve([]);
        }
      });
    }
  });
}

import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { log, trace } from '../log';
import { output } from '../output';
import type { Config } from '../options';
import { isCorralMessage, TAG, type SlotInfo, type ToPrimary } from '../protocol/messages';
import { workerEnv } from '../protocol/worker-env';
import { WorkerProcess } from './worker-process';
import type { RawHandle } from '../internal/raw-handle';
import { checkIpcPipes, connectIpcPipe } from '../internal/ipc-pipe';
import { Lane } from '../internal/lane';
import type { ReloadReport, WorkerStatus } from '../control/protocol';
import { RestartPolicy } from './restart-policy';
import { clusterChannel } from './channel';
import { Heartbeat } from './heartbeat';

/** Every ready worker is pinged this often... */
const HEARTBEAT_MS = 500;
/** Failures before any worker was ready (a retry among them) that end the start: the app cannot run. */
const NEVER_READY_FAILURES = 3;
/** ...and is unresponsive once silent this long: a few missed beats, well above a busy event loop's lag. */
const MISS_AFTER_MS = 2500;
/** How long a worker whose handoff lane closed has to exit (its exit re-routes) before its answers count as lost. */
const LANE_BREAK_GRACE_MS = 1000;

/** One numbered place for a worker. A respawned or reloaded worker takes its slot's number. */
interface Slot {
  readonly index: number;
  /**
   * `running`: it has a worker (starting, ready, unresponsive or draining). `restarting`: its
   * worker died, a new one starts when `respawn` fires. `halted`: a crash loop, no more
   * respawns until a reload.
   */
  phase: 'running' | 'restarting' | 'halted';
  current: WorkerProcess | undefined;
  respawn: NodeJS.Timeout | undefined;
  readonly policy: RestartPolicy;
  /**
   * A replacement worker is starting (reload or memory limit): start no second one. Apart
   * from `phase`: a running slot keeps serving while it is replaced, and a reload replaces a
   * halted slot too.
   */
  replacing: boolean;
}

/** What the supervisor needs from the primary. */
export interface SupervisorHooks {
  /** A message that is about routing, not about the worker's life. */
  message(wp: WorkerProcess, message: ToPrimary, handle: RawHandle | undefined): void;
  /** Some worker became ready: serve whatever waited for one. */
  ready(): void;
  /** A worker is gone: re-route what it had not answered. */
  gone(wp: WorkerProcess): void;
  /** A live worker's handoff lane broke: what it had not answered may be served there, and must not be served twice. */
  answersLost(wp: WorkerProcess): void;
  /** Every slot is halted by a crash loop: nothing is left to serve. */
  allDown(report: string): void;
  /** Every heartbeat: these workers' unanswered handoffs may have passed their deadline. */
  tick(workers: readonly WorkerProcess[], now: number): void;
}

/**
 * Keeps one worker alive per slot: forks, readiness deadline, respawn with backoff, crash-loop
 * halt, rolling reload, scaling, drain on stop. The routing side only ever asks it for the
 * ready workers.
 */
export class Supervisor {
  readonly #config: Readonly<Config>;
  readonly #hooks: SupervisorHooks;
  readonly #slots: Slot[] = [];
  /** Workers that left their slot (reload, scale down, memory) and are finishing. */
  readonly #retiring = new Set<WorkerProcess>();
  readonly #readyWaiters = new Map<WorkerProcess, (ready: boolean) => void>();
  #address: AddressInfo | undefined;
  #runtimeDir = '';
  /** Whether any worker has been ready since start: until then, a failing app is given up on fast. */
  #everReady = false;
  /** Workers that failed before any was ready. */
  #startFailures = 0;
  /** Stderr texts printed while no worker was ever ready, and how many repeats were hidden. */
  readonly #startErrors = new Set<string>();
  #startErrorsHidden = 0;
  /** The key of `--sticky cookie`'s cookies, the same in every worker ('' otherwise). */
  #cookieSecret = '';
  #reloading: Promise<ReloadReport> | undefined;
  #stopping = false;
  #stopped: Promise<StopReport> | undefined;
  readonly #heartbeat: Heartbeat;
  #unresponsive = 0;

  constructor(config: Readonly<Config>, hooks: SupervisorHooks) {
    this.#config = config;
    this.#hooks = hooks;
    this.#heartbeat = new Heartbeat({
      everyMs: HEARTBEAT_MS,
      missAfterMs: MISS_AFTER_MS,
      replaceAfterMs: config.unresponsiveTimeout,
      workers: () => this.#live(),
      changed: (wp) => this.#responsiveness(wp),
      stuck: (wp) => {
        log.error('worker.unresponsive-killed', `${wp.name} has been unresponsive for ${this.#config.unresponsiveTimeout} ms (--unresponsive-timeout): killing it; its slot gets a new worker.`, { slot: wp.slot, pid: wp.pid });
        wp.channel.kill('SIGKILL');
      },
      tick: (now) => this.#hooks.tick(this.#live(), now),
    });
  }

  start(address: AddressInfo, runtimeDir: string, bootstrap: string, cookieSecret: string): void {
    this.#address = address;
    this.#runtimeDir = runtimeDir;
    this.#cookieSecret = cookieSecret;
    // silent: the primary pipes the app's output through, keeping stderr's tail for crash reports.
    cluster.setupPrimary({ exec: bootstrap, args: [...this.#config.appArgs], execArgv: [...process.execArgv, ...this.#config.nodeArgs], silent: true });
    this.scale(this.#config.workers);
    this.#heartbeat.start();
  }

  /** The public address moved (narrowed to the host the app's listen() names): workers forked from now on are told. */
  serveAt(address: AddressInfo): void {
    this.#address = address;
  }

  /** Workers taking connections now (a worker whose channel closed is no candidate, even before its exit). */
  readyWorkers(): WorkerProcess[] {
    const ready: WorkerProcess[] = [];
    for (const slot of this.#slots) if (slot.current?.state === 'ready' && slot.current.channel.connected()) ready.push(slot.current);
    return ready;
  }

  /** Whether `slot` will have a ready worker again without anyone's help (not halted, not scaled away, not stopping). */
  comingBack(slot: number): boolean {
    const s = this.#slots[slot];
    return s !== undefined && s.phase !== 'halted' && !this.#stopping;
  }

  /** Whether the worker of `slot` is unresponsive (its sessions' requests get 503, not another worker). */
  unresponsive(slot: number): boolean {
    return this.#slots[slot]?.current?.state === 'unresponsive';
  }

  /** Whether any worker is unresponsive now: lets the hot path skip the question. */
  get anyUnresponsive(): boolean {
    return this.#unresponsive > 0;
  }

  status(): WorkerStatus[] {
    const rows: WorkerStatus[] = [];
    const row = (slot: Slot | undefined, wp: WorkerProcess): WorkerStatus => ({
      slot: wp.slot,
      pid: wp.pid ?? null,
      state: wp.state,
      uptimeMs: Date.now() - wp.startedAt,
      restarts: slot?.policy.restarts ?? 0,
      connections: wp.connections,
      rssBytes: wp.rss,
      cpuPercent: wp.cpuPercent,
      forwarded: wp.forwarded,
      relayed: wp.relayed,
      sessions: wp.sessions,
      lane: wp.onLane,
    });
    for (const slot of this.#slots) {
      if (slot.current !== undefined) rows.push(row(slot, slot.current));
      else rows.push({ slot: slot.index, pid: null, state: slot.phase, uptimeMs: 0, restarts: slot.policy.restarts, connections: 0, rssBytes: 0, cpuPercent: 0, forwarded: 0, relayed: 0, sessions: 0, lane: false });
    }
    for (const wp of this.#retiring) rows.push(row(this.#slots[wp.slot], wp));
    return rows.sort((a, b) => a.slot - b.slot);
  }

  /** Grow or shrink to `workers` slots. New slots start at once; removed ones drain. */
  scale(workers: number): void {
    // Stopping: nothing new is forked, and the slots stay as they are for the drain.
    if (this.#stopping) return;
    while (this.#slots.length < workers) {
      const slot: Slot = { index: this.#slots.length, phase: 'running', current: undefined, respawn: undefined, policy: new RestartPolicy(this.#config), replacing: false };
      this.#slots.push(slot);
      slot.current = this.#spawn(slot);
    }
    while (this.#slots.length > workers) {
      const slot = this.#slots.pop()!;
      if (slot.respawn !== undefined) clearTimeout(slot.respawn);
      if (slot.current !== undefined) this.#retire(slot.current);
      slot.current = undefined;
    }
    this.#announce();
  }

  /**
   * Replace every worker, one slot at a time: start the new one, wait until it is ready,
   * route the slot to it, then drain the old one. A new worker that fails stops the reload;
   * the old workers of the remaining slots keep serving.
   */
  reload(): Promise<ReloadReport> {
    this.#reloading ??= this.#reloadAll().finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  /**
   * Stop: drain every worker within `killTimeout`, SIGKILL the rest. Returns what did not
   * drain cleanly: the killed, and those that ended some other way meanwhile (a signal sent to
   * the whole process group, a crash, a non-zero exit), each with how.
   * Idempotent: a second call returns the same promise.
   */
  stop(): Promise<StopReport> {
    this.#stopped ??= this.#stopAll();
    return this.#stopped;
  }

  async #stopAll(): Promise<StopReport> {
    this.#stopping = true;
    this.#heartbeat.stop();
    const live: WorkerProcess[] = [...this.#retiring];
    for (const slot of this.#slots) {
      if (slot.respawn !== undefined) clearTimeout(slot.respawn);
      slot.respawn = undefined;
      if (slot.current !== undefined && slot.current.state !== 'stopped') {
        this.#drain(slot.current);
        live.push(slot.current);
      }
    }
    const killed = await drainOrKill(live, this.#config.killTimeout);
    const unclean: { worker: WorkerProcess; how: string }[] = [];
    for (const worker of live) {
      const how = worker.channel.exitedHow();
      if (!killed.includes(worker) && how !== undefined && how !== '') unclean.push({ worker, how });
    }
    return { killed, unclean };
  }

  /** Kill every worker now. */
  kill(): void {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
  }

  async #reloadAll(): Promise<ReloadReport> {
    const started = Date.now();
    const count = this.#slots.length;
    log.info('reload.start', `reload: replacing ${count} ${count === 1 ? 'worker' : 'workers'}, one slot at a time`);
    const outgoing = this.#slots.flatMap((slot) => (slot.current === undefined ? [] : [slot.current]));
    for (const wp of outgoing) wp.outgoing = true;
    try {
      for (const slot of [...this.#slots]) {
        if (this.#stopping) break;
        const failure = await this.#replace(slot);
        if (failure !== undefined) {
          const message = `reload stopped at slot ${slot.index}: ${failure} The other slots keep their old workers.`;
          log.error('reload.failed', message, { slot: slot.index });
          return { ok: false, message, durationMs: Date.now() - started };
        }
      }
    } finally {
      // Those a failed or stopped reload did not reach keep serving as before.
      for (const wp of outgoing) wp.outgoing = false;
    }
    const durationMs = Date.now() - started;
    const message = `reload done: ${count} ${count === 1 ? 'worker' : 'workers'} replaced in ${durationMs} ms`;
    log.info('reload.done', message, { workers: count, durationMs });
    return { ok: true, message, durationMs };
  }

  /** Start a new worker for `slot`, switch to it once ready, retire the old. Undefined = success, else why not. */
  async #replace(slot: Slot): Promise<string | undefined> {
    if (slot.replacing) return undefined;
    slot.replacing = true;
    try {
      return await this.#switchTo(slot, this.#spawn(slot));
    } finally {
      slot.replacing = false;
    }
  }

  async #switchTo(slot: Slot, next: WorkerProcess): Promise<string | undefined> {
    const ready = await new Promise<boolean>((resolve) => this.#readyWaiters.set(next, resolve));
    if (!ready) {
      const tail = next.lastStderr();
      return `the new ${next.name} did not become ready.${tail ? `\nIts last stderr lines:\n${tail}\n` : ''}`;
    }
    const old = slot.current;
    slot.current = next;
    slot.phase = 'running';
    slot.policy.clear();
    // A reload of a slot that was restarting: its replacement is here, the pending respawn is not needed.
    if (slot.respawn !== undefined) clearTimeout(slot.respawn);
    slot.respawn = undefined;
    if (this.#slots[slot.index] !== slot) {
      // Scaled away meanwhile.
      this.#retire(next);
      return undefined;
    }
    this.#announce();
    this.#hooks.ready();
    if (old !== undefined) this.#retire(old);
    return undefined;
  }

  #spawn(slot: Slot): WorkerProcess {
    slot.respawn = undefined;
    const worker = cluster.fork(workerEnv(this.#config, slot.index, this.#address!, this.#runtimeDir, this.#cookieSecret));
    const wp = new WorkerProcess(slot.index, clusterChannel(worker));
    log.info('worker.started', `${wp.name} started`, { slot: wp.slot, pid: wp.pid });
    worker.process.stdout?.on('data', (chunk: Buffer) => output().app(slot.index, 'out', chunk));
    worker.process.stderr?.on('data', (chunk: Buffer) => {
      if (this.#firstTimeSeen(chunk)) output().app(slot.index, 'err', chunk);
      wp.stderr(chunk);
    });
    worker.on('message', (message: unknown, handle: RawHandle | undefined) => {
      if (isCorralMessage(message)) this.#onMessage(wp, message as ToPrimary, handle);
    });
    worker.on('exit', (code, signal) => this.#onExit(slot, wp, code, signal));
    worker.on('error', (err) => trace.primary('%s channel error: %s', wp.name, err.message));
    const readyTimer = setTimeout(() => {
      if (wp.state !== 'starting') return;
      log.warn('worker.ready-timeout', `${wp.name} was not ready within ${this.#config.readyTimeout} ms (--ready-timeout); killing it.`, { slot: wp.slot, pid: wp.pid });
      worker.process.kill('SIGKILL');
    }, this.#config.readyTimeout);
    readyTimer.unref();
    worker.once('exit', () => clearTimeout(readyTimer));
    return wp;
  }

  #onMessage(wp: WorkerProcess, message: ToPrimary, handle: RawHandle | undefined): void {
    switch (message.type) {
      case 'ready': {
        if (wp.state !== 'starting') return;
        wp.forwardPath = message.forwardPath;
        if (message.lanePath !== undefined) this.#connectLane(wp, message.lanePath);
        wp.state = 'ready';
        wp.lastPong = Date.now();
        this.#everReady = true;
        log.info('worker.ready', `${wp.name} ready: serving ${url(this.#address!)}`, { slot: wp.slot, pid: wp.pid });
        const waiter = this.#readyWaiters.get(wp);
        this.#readyWaiters.delete(wp);
        if (waiter !== undefined) waiter(true);
        else {
          this.#announce();
          this.#hooks.ready();
        }
        return;
      }
      case 'not-listening':
        if (wp.state === 'ready' || wp.state === 'unresponsive') {
          log.warn('worker.not-listening', `${wp.name} closed its server; it gets no more connections.`, { slot: wp.slot, pid: wp.pid });
          this.#leaveService(wp, 'draining');
        }
        return;
      case 'pong':
        this.#heartbeat.pong(wp);
        return;
      case 'stats':
        wp.stats(message.rss, message.cpuMicros, message.forwarded, message.relayed, message.sessions);
        this.#checkMemory(wp);
        return;
      case 'load':
        wp.report(message.connections, message.taken);
        return;
      default:
        this.#hooks.message(wp, message, handle);
    }
  }

  /**
   * Open the worker's handoff lane; handoffs ride Node's channel until it is up, and again if
   * it cannot be opened or breaks (the worker still takes both).
   */
  #connectLane(wp: WorkerProcess, path: string): void {
    // The worker checked its own Node; this one may differ (a worker run with another execArgv).
    const missing = checkIpcPipes();
    if (missing !== undefined) {
      trace.primary('%s: no handoff lane: %s; handoffs use the IPC channel', wp.name, missing);
      return;
    }
    connectIpcPipe(path, (pipe, status) => {
      if (pipe === undefined) {
        trace.primary('%s: no handoff lane at %s (libuv status %d); handoffs use the IPC channel', wp.name, path, status);
        return;
      }
      if (wp.state === 'stopped') {
        pipe.close();
        return;
      }
      const lane = new Lane(
        pipe,
        (frame) => {
          if (frame.kind === 'reply') this.#hooks.message(wp, { tag: TAG, type: 'handoff-reply', seq: frame.seq, accepted: frame.accepted }, undefined);
        },
        () => {
          trace.primary('%s: handoff lane closed', wp.name);
          // A dying worker's lane closes first, and its exit re-routes what it left. One that
          // lives on took, or not, what it read before the break: its answers are lost.
          setTimeout(() => {
            if (wp.state === 'stopped' || !wp.channel.connected()) return;
            log.warn('worker.lane-broken', `${wp.name}: its handoff lane broke; connections it had not answered are closed (it may be serving them), new ones go on the IPC channel.`, { slot: wp.slot, pid: wp.pid });
            this.#hooks.answersLost(wp);
          }, LANE_BREAK_GRACE_MS).unref();
        },
      );
      if (lane.open) wp.useLane(lane);
    });
  }

  #checkMemory(wp: WorkerProcess): void {
    const limit = this.#config.maxMemory;
    const slot = this.#slots[wp.slot];
    if (limit === 0 || wp.rss <= limit || slot?.current !== wp || wp.state !== 'ready' || this.#stopping) return;
    log.warn('worker.max-memory', `${wp.name} uses ${mib(wp.rss)} MiB, over --max-memory ${mib(limit)} MiB: replacing it gracefully.`, { slot: wp.slot, pid: wp.pid });
    slot.policy.restarts++;
    void this.#replace(slot);
  }

  #retire(wp: WorkerProcess): void {
    if (wp.state === 'stopped') return;
    this.#retiring.add(wp);
    this.#drain(wp);
    const timer = setTimeout(() => {
      log.warn('worker.drain-timeout', `${wp.name} did not drain within ${this.#config.killTimeout} ms (--kill-timeout); killing it.`, { slot: wp.slot, pid: wp.pid });
      wp.channel.kill('SIGKILL');
    }, this.#config.killTimeout);
    timer.unref();
    wp.channel.onExit(() => clearTimeout(timer));
  }

  #drain(wp: WorkerProcess): void {
    if (wp.state === 'stopped') return;
    if (wp.state !== 'draining') this.#leaveService(wp, 'draining');
    wp.message({ tag: TAG, type: 'drain', deadlineMs: this.#config.killTimeout });
  }

  /** A worker stops taking connections for good: its peers and the router hear of it. */
  #leaveService(wp: WorkerProcess, next: 'draining' | 'stopped'): void {
    const wasServing = wp.state === 'ready' || wp.state === 'unresponsive';
    if (wp.state === 'unresponsive') this.#unresponsive--;
    wp.state = next;
    if (wasServing) this.#announce();
  }

  /** The heartbeat moved a worker between ready and unresponsive. */
  #responsiveness(wp: WorkerProcess): void {
    if (wp.state === 'unresponsive') {
      this.#unresponsive++;
      log.warn('worker.unresponsive', `${wp.name} is unresponsive (no heartbeat for ${MISS_AFTER_MS} ms: stopped, or a blocked event loop): it gets no new connections, and its sessions' requests are answered 503 until it answers again.`, { slot: wp.slot, pid: wp.pid });
    } else {
      this.#unresponsive--;
      log.info('worker.responsive', `${wp.name} answers again: ready.`, { slot: wp.slot, pid: wp.pid });
      this.#hooks.ready();
    }
    this.#announce();
  }

  #onExit(slot: Slot, wp: WorkerProcess, code: number | null, signal: string | null): void {
    const expected = wp.state === 'draining';
    if (expected) log.info('worker.exited', `${wp.name} exited after draining (${signal ?? `code ${code}`})`, { slot: wp.slot, pid: wp.pid, code, signal });
    this.#leaveService(wp, 'stopped');
    this.#retiring.delete(wp);
    wp.closeLane();
    this.#hooks.gone(wp);
    const waiter = this.#readyWaiters.get(wp);
    this.#readyWaiters.delete(wp);
    waiter?.(false);
    if (slot.current !== wp) return;
    slot.current = undefined;
    if (this.#stopping || expected || this.#slots[slot.index] !== slot) return;
    slot.phase = 'restarting';
    this.#respawnLater(slot, wp, signal !== null ? `was killed by ${signal}` : `exited with code ${code}`);
  }

  /**
   * Until some worker has been ready, each worker that fails at start prints the same error: the
   * same stderr text from another worker is shown once, not once per worker and try.
   */
  #firstTimeSeen(chunk: Buffer): boolean {
    if (this.#everReady) return true;
    const text = chunk.toString();
    if (this.#startErrors.has(text)) {
      this.#startErrorsHidden++;
      return false;
    }
    if (this.#startErrors.size < 64) this.#startErrors.add(text);
    return true;
  }

  #respawnLater(slot: Slot, wp: WorkerProcess, how: string): void {
    const retried = slot.policy.restarts > 0;
    const decision = slot.policy.failed(Date.now(), wp.startedAt);
    const tail = wp.lastStderr();
    const stderr = tail ? `\nIts last stderr lines:\n${tail}` : '';
    // No worker was ever ready and a retry failed too: the app cannot start (it throws at start,
    // listens elsewhere, misses a module); more tries only repeat its error.
    if (!this.#everReady && ++this.#startFailures >= NEVER_READY_FAILURES && retried) {
      for (const s of this.#slots) {
        if (s.respawn !== undefined) clearTimeout(s.respawn);
        s.respawn = undefined;
        s.phase = 'halted';
      }
      const hidden = this.#startErrorsHidden > 0 ? ` (the same output of other workers was shown once)` : '';
      this.#hooks.allDown(`the app never became ready: ${this.#startFailures} workers failed before any was ready; the last ${how}${hidden}. Fix the app (run it alone with \`node ${this.#config.app}\` to see), then start corral again.${stderr}`);
      return;
    }
    if (decision.halt) {
      slot.phase = 'halted';
      log.error('slot.crash-loop', `slot ${slot.index} is in a crash loop: ${wp.name} ${how}, ${decision.failures} failures within ${this.#config.restartWindow} ms (--max-restarts ${this.#config.maxRestarts}). Not restarting it; fix the app, then \`corral reload\`.${stderr}`, { slot: slot.index, failures: decision.failures });
      if (this.#slots.every((s) => s.phase === 'halted')) this.#hooks.allDown(`every slot is in a crash loop; the app keeps failing.${stderr}`);
      return;
    }
    log.warn('worker.respawn', `${wp.name} ${how}; starting a new worker in slot ${slot.index} in ${decision.delayMs} ms.`, { slot: wp.slot, pid: wp.pid });
    slot.respawn = setTimeout(() => {
      if (this.#stopping || this.#slots[slot.index] !== slot || slot.current !== undefined) return;
      slot.phase = 'running';
      slot.current = this.#spawn(slot);
    }, decision.delayMs);
  }

  /** Every worker process alive now: slots' current workers and those retiring. */
  liveWorkers(): WorkerProcess[] {
    return this.#live();
  }

  #live(): WorkerProcess[] {
    const all: WorkerProcess[] = [...this.#retiring];
    for (const slot of this.#slots) if (slot.current !== undefined) all.push(slot.current);
    return all;
  }

  /** Tell every worker which slots are live, where their forwarding servers are, and which are unresponsive. */
  #announce(): void {
    const slots: SlotInfo[] = this.readyWorkers().map((w) => ({ slot: w.slot, forwardPath: w.forwardPath }));
    const unresponsive = this.#slots.filter((s) => s.current?.state === 'unresponsive').map((s) => s.index);
    const message = { tag: TAG, type: 'slots', slots, unresponsive } as const;
    for (const s of this.#slots) s.current?.message(message);
    for (const wp of this.#retiring) wp.message(message);
  }
}

function url({ address, family, port }: AddressInfo): string {
  return family === 'IPv6' ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

/** What a stop left undrained. */
export interface StopReport {
  /** Still alive at `--kill-timeout`: SIGKILLed. */
  readonly killed: readonly WorkerProcess[];
  /** Ended by themselves, but not with code 0 (a signal, a crash). */
  readonly unclean: readonly { readonly worker: WorkerProcess; readonly how: string }[];
}

/** Wait for these workers to exit; SIGKILL those still alive at the deadline. Returns the killed. */
function drainOrKill(workers: readonly WorkerProcess[], deadlineMs: number): Promise<WorkerProcess[]> {
  const alive = new Set(workers.filter((w) => !w.channel.exited()));
  if (alive.size === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      const killed = [...alive];
      for (const w of killed) w.channel.kill('SIGKILL');
      resolve(killed);
    }, deadlineMs);
    for (const w of alive) {
      w.channel.onExit(() => {
        alive.delete(w);
        if (alive.size === 0) {
          clearTimeout(timer);
          resolve([]);
        }
      });
    }
  });
}

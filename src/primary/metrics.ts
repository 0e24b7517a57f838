import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerStatus } from '../control/protocol';
import type { RecoveryStats } from '../recovery/store';
import { log } from '../log';
import type { Dashboard } from './dashboard';
import { TAG } from '../protocol/messages';
import type { WorkerProcess } from '../supervisor/worker-process';

/** A scrape answers within this, with what the workers that answered sent. */
const SCRAPE_DEADLINE_MS = 1500;

/** What the metrics endpoint asks of the primary. */
export interface MetricsSource {
  /** One row per worker process (and per empty slot), as `corral status` shows. */
  status(): WorkerStatus[];
  /** The worker processes alive now (ready, starting, draining, unresponsive). */
  live(): readonly WorkerProcess[];
  /** At least one worker is ready and the primary is not stopping. */
  ready(): boolean;
  /** Socket.IO connection-state recovery's store, when the app uses it. */
  recovery(): RecoveryStats | undefined;
}

interface Pending {
  resolve: (reply: { metrics: unknown[]; sessions: number } | undefined) => void;
}

/**
 * `--metrics PORT`: `/metrics` (Prometheus text: the app's own prom-client metrics summed over
 * workers by prom-client's aggregation rules, plus corral's), `/healthz` and `/readyz`.
 *
 * prom-client's AggregatorRegistry fails the whole scrape when one worker is silent for 5 s;
 * here each worker gets {@link SCRAPE_DEADLINE_MS}, a silent one is left out and reported with
 * `corral_worker_up{slot} 0`, and the others' figures are still served.
 */
export class MetricsEndpoint {
  readonly #source: MetricsSource;
  readonly #registry = new Registry();
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #server: Server | undefined;

  readonly handoffs = new Counter({ name: 'corral_handoffs_total', help: 'Connections handed to a worker, by its answer (accepted, refused, expired: no answer in time, lost: its worker died).', labelNames: ['result'], registers: [this.#registry] });
  readonly handoffSeconds = new Histogram({
    name: 'corral_handoff_duration_seconds',
    help: 'From accepting a connection to the worker taking it (head read, routing, IPC, the answer), accepted handoffs only.',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.#registry],
  });
  readonly headFailures = new Counter({ name: 'corral_rejected_connections_total', help: 'Connections the primary answered or closed itself, by reason (too-long, head-too-long, timeout, busy, busy-address, proxy-invalid, proxy-untrusted).', labelNames: ['reason'], registers: [this.#registry] });
  /** Recovery's gauges are registered on the first scrape after the app uses it. */
  #recoveryGauges = false;
  readonly reloads = new Counter({ name: 'corral_reloads_total', help: 'Rolling reloads, by outcome.', labelNames: ['result'], registers: [this.#registry] });
  readonly #up = new Gauge({ name: 'corral_worker_up', help: '1 when the slot has a ready worker that answered this scrape, else 0.', labelNames: ['slot'], registers: [this.#registry] });
  readonly #state = new Gauge({ name: 'corral_worker_state', help: 'The state of each slot (1 for its current state).', labelNames: ['slot', 'state'], registers: [this.#registry] });
  readonly #restarts = new Gauge({ name: 'corral_worker_restarts', help: 'Restarts of the slot since corral started.', labelNames: ['slot'], registers: [this.#registry] });
  readonly #rss = new Gauge({ name: 'corral_worker_resident_memory_bytes', help: "Resident set size of the slot's worker.", labelNames: ['slot'], registers: [this.#registry] });
  readonly #cpu = new Gauge({ name: 'corral_worker_cpu_ratio', help: "CPU used by the slot's worker over the last second, 1 = one core.", labelNames: ['slot'], registers: [this.#registry] });
  readonly #connections = new Gauge({ name: 'corral_worker_open_connections', help: "Open connections on the slot's worker.", labelNames: ['slot'], registers: [this.#registry] });
  readonly #sessions = new Gauge({ name: 'corral_worker_engine_sessions', help: "Open Engine.IO sessions on the slot's worker.", labelNames: ['slot'], registers: [this.#registry] });
  readonly #forwarded = new Gauge({ name: 'corral_worker_forwarded_requests', help: 'Keep-alive requests the worker forwarded to the worker that owns them, since it started.', labelNames: ['slot'], registers: [this.#registry] });
  readonly #relayed = new Gauge({ name: 'corral_worker_relayed_upgrades', help: 'WebSocket upgrades the worker relayed to the worker that owns them, since it started.', labelNames: ['slot'], registers: [this.#registry] });

  /** `--dashboard`, served on the same port. */
  readonly #dashboard: Dashboard | undefined;

  #addRecoveryGauges(): void {
    this.#recoveryGauges = true;
    const source = this.#source;
    const gauges: [string, string, (s: RecoveryStats) => number][] = [
      ['memory_bytes', 'Estimated memory of connection-state recovery in the primary: packet log and sessions that left.', (s) => s.bytes],
      ['memory_limit_bytes', '--recovery-memory.', (s) => s.maxBytes],
      ['packets', 'Broadcasts in the recovery log.', (s) => s.packets],
      ['sessions', 'Disconnected Socket.IO sessions kept for recovery.', (s) => s.sessions],
      ['open_sockets', 'Connected Socket.IO sockets whose rooms the primary mirrors.', (s) => s.open],
      ['evicted', 'Packets and sessions dropped before their time to stay under --recovery-memory, since start.', (s) => s.evicted],
    ];
    for (const [name, help, pick] of gauges) {
      new Gauge({
        name: `corral_recovery_${name}`,
        help,
        registers: [this.#registry],
        // prom-client calls collect with the gauge as `this`.
        collect(this: Gauge) {
          const stats = source.recovery();
          if (stats !== undefined) this.set(pick(stats));
        },
      });
    }
  }

  constructor(source: MetricsSource, dashboard?: Dashboard) {
    this.#source = source;
    this.#dashboard = dashboard;
  }

  /** Serve on `port` of `host` (loopback unless told otherwise). */
  listen(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (this.#dashboard?.handle(req, res, path) === true) return;
      if (path === '/healthz') {
        res.end('ok\n');
      } else if (path === '/readyz') {
        const ready = this.#source.ready();
        res.statusCode = ready ? 200 : 503;
        res.end(ready ? 'ready\n' : 'not ready: no worker is ready, or corral is stopping\n');
      } else if (path === '/metrics') {
        this.scrape().then(
          (text) => {
            res.setHeader('content-type', this.#registry.contentType);
            res.end(text);
          },
          (err: Error) => {
            res.statusCode = 500;
            res.end(`corral: the scrape failed: ${err.message}\n`);
          },
        );
      } else {
        res.statusCode = 404;
        res.end(`corral serves /metrics, /healthz and /readyz here${this.#dashboard === undefined ? '' : ', and /dashboard'}\n`);
      }
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.warn('metrics.error', `the metrics endpoint failed: ${err.message}`));
        resolve();
      });
    });
  }

  get address(): { address: string; port: number } | undefined {
    const a = this.#server?.address();
    return a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : undefined;
  }

  close(): void {
    this.#dashboard?.close();
    this.#server?.close();
    this.#server?.closeAllConnections();
    for (const pending of this.#pending.values()) pending.resolve(undefined);
    this.#pending.clear();
  }

  /** A worker answered a `metrics` request. */
  settle(seq: number, metrics: unknown[], sessions: number): void {
    const pending = this.#pending.get(seq);
    this.#pending.delete(seq);
    pending?.resolve({ metrics, sessions });
  }

  /** Ask every live worker, wait at most the deadline, and write it all as Prometheus text. */
  async scrape(): Promise<string> {
    const workers = this.#source.live();
    const replies = await Promise.all(workers.map((wp) => this.#ask(wp)));
    const answered = new Map<WorkerProcess, { metrics: unknown[]; sessions: number }>();
    workers.forEach((wp, i) => {
      const reply = replies[i];
      if (reply !== undefined) answered.set(wp, reply);
    });
    this.#setWorkerFigures(answered);
    const app = [...answered.values()].map((r) => r.metrics).filter((m) => m.length > 0);
    // Recovery's figures appear once the app uses it.
    if (!this.#recoveryGauges && this.#source.recovery() !== undefined) this.#addRecoveryGauges();
    const ours = await this.#registry.metrics();
    if (app.length === 0) return ours;
    const aggregated = await AggregatorRegistry.aggregate(app as never).metrics();
    return `${aggregated}\n${ours}`;
  }

  #ask(wp: WorkerProcess): Promise<{ metrics: unknown[]; sessions: number } | undefined> {
    if (!wp.channel.connected()) return Promise.resolve(undefined);
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        resolve(undefined);
      }, SCRAPE_DEADLINE_MS);
      this.#pending.set(seq, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      wp.message({ tag: TAG, type: 'metrics', seq });
    });
  }

  #setWorkerFigures(answered: ReadonlyMap<WorkerProcess, { sessions: number }>): void {
    for (const gauge of [this.#up, this.#state, this.#restarts, this.#rss, this.#cpu, this.#connections, this.#sessions, this.#forwarded, this.#relayed]) gauge.reset();
    const live = this.#source.live();
    const rows = this.#source.status();
    // One series per slot: its current worker (one retiring in a reload is left out).
    for (const row of rows) {
      if (row.state === 'draining' && rows.some((r) => r.slot === row.slot && r.state !== 'draining')) continue;
      const slot = String(row.slot);
      const wp = live.find((w) => w.slot === row.slot && w.pid === row.pid);
      const reply = wp === undefined ? undefined : answered.get(wp);
      this.#up.set({ slot }, row.state === 'ready' && reply !== undefined ? 1 : 0);
      this.#state.set({ slot, state: row.state }, 1);
      this.#restarts.set({ slot }, row.restarts);
      this.#rss.set({ slot }, row.rssBytes);
      this.#cpu.set({ slot }, row.cpuPercent / 100);
      this.#connections.set({ slot }, row.connections);
      this.#sessions.set({ slot }, reply?.sessions ?? row.sessions);
      this.#forwarded.set({ slot }, row.forwarded);
      this.#relayed.set({ slot }, row.relayed);
    }
  }
}

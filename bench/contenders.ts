/** How each contender is started, found ready, measured and stopped. */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawnTied } from './lifeline';
import { descendants, killQuietly } from './proc';

export type ContenderId = 'single' | 'cluster-rr' | 'sticky-io' | 'sticky-session' | 'corral-sid' | 'corral-ip' | 'corral-recovery' | FrontDoorId;
/** corral variants measured by bench/front-door.ts only. */
export type FrontDoorId = 'corral-cookie' | 'corral-header' | 'corral-xff' | 'corral-proxy-ip' | 'corral-proxy-sid';

export const ROOT = path.resolve(__dirname, '..');
const CORRAL_CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface ContenderSpec {
  id: ContenderId;
  label: string;
  /** Worker processes it runs (1 for single: the app process itself). */
  workers: number;
  /** Routes by client IP, so traffic from one address (autocannon) lands on one worker. */
  ipHash: boolean;
  /** Stdout lines containing "ready" to wait for (one per worker), besides /health answering. */
  readyLines: number;
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  command(port: number): { args: string[]; env: Record<string, string> };
}

export const peer = (id: ContenderId, label: string, script: string, ipHash = false): ContenderSpec => ({
  id,
  label,
  workers: 2,
  ipHash,
  readyLines: 2,
  unavailable: () => null,
  command: (port) => ({
    args: [path.join(ROOT, 'bench', 'servers', script)],
    env: { PORT: String(port), HOST: '127.0.0.1', WORKERS: '2' },
  }),
});

/** corral with `--sticky STICKY` and any other flags (`extra`), labelled by its flags. */
export const corral = (id: ContenderId, sticky: string, extra: readonly string[] = []): ContenderSpec => ({
  id,
  label: ['corral --sticky', sticky, ...extra].join(' '),
  workers: 2,
  ipHash: sticky === 'ip',
  readyLines: 2,
  unavailable: () =>
    existsSync(CORRAL_CLI) && existsSync(path.join(ROOT, 'dist', 'index.js'))
      ? null
      : 'not built: dist/cli/main.js missing (npm run build)',
  command: (port) => ({
    args: [CORRAL_CLI, 'start', 'bench/app.js', '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--sticky', sticky, ...extra],
    env: { BENCH_MODE: 'corral', PORT: String(port), HOST: '127.0.0.1' },
  }),
});

export const CONTENDERS: readonly ContenderSpec[] = [
  {
    id: 'single',
    label: 'single process',
    workers: 1,
    ipHash: false,
    readyLines: 0,
    unavailable: () => null,
    command: (port) => ({
      args: [path.join(ROOT, 'bench', 'app.js')],
      env: { BENCH_MODE: 'single', PORT: String(port), HOST: '127.0.0.1' },
    }),
  },
  peer('cluster-rr', 'cluster round-robin', 'cluster-rr.js'),
  peer('sticky-io', '@socket.io/sticky', 'sticky-io.js'),
  peer('sticky-session', 'sticky-session', 'sticky-session.js', true),
  corral('corral-sid', 'sid'),
  corral('corral-ip', 'ip'),
];

/** Measured only when named with --only: variants of one feature's cost. */
export const OPTIONAL_CONTENDERS: readonly ContenderSpec[] = [
  (() => {
    const spec = corral('corral-recovery', 'sid');
    return { ...spec, label: 'corral --sticky sid, app with connectionStateRecovery', command: (port: number) => { const c = spec.command(port); return { ...c, env: { ...c.env, BENCH_RECOVERY: '1' } }; } };
  })(),
];

/** A port nobody listens on right now (small race with other programs; fine on a bench box). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function healthOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** A started contender. */
export class Running {
  private readonly tail: string[] = [];
  private readyCount = 0;
  private exited: string | null = null;
  private readonly exitPromise: Promise<void>;
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly spec: ContenderSpec,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly cut: () => void,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = signal ?? `code ${code}`;
        resolve();
      });
    });
    const lines = (): ((buf: Buffer) => void) => {
      let partial = '';
      return (buf) => {
        const parts = (partial + buf.toString('utf8')).split('\n');
        partial = (parts.pop() ?? '').slice(-4096);
        for (const line of parts) {
          if (line.trim() === '') continue;
          if (/ready/i.test(line)) this.readyCount++;
          this.tail.push(line.slice(0, 300));
          if (this.tail.length > 40) this.tail.shift();
        }
      };
    };
    child.stdout?.on('data', lines());
    child.stderr?.on('data', lines());
  }

  /** Primary pid (for single, the app process). */
  get pid(): number {
    return this.child.pid as number;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Live worker pids (empty for single: its only process is counted as the primary). */
  workerPids(): number[] {
    return this.spec.id === 'single' ? [] : descendants(this.pid);
  }

  /** Last lines the contender printed, for a failure report. */
  output(): string {
    return this.tail.join('\n');
  }

  /** Died on its own? Returns how, or null while it runs. */
  get exitedHow(): string | null {
    return this.exited;
  }

  /**
   * Spawns the contender in its own process group, tied to the bench's life (lifeline.ts), and
   * waits until it serves, or throws. `prefix` runs before node in the same process (e.g.
   * `['sh', '-c', 'ulimit -n 200000; exec "$0" "$@"']`).
   */
  static async start(spec: ContenderSpec, deadlineMs: number, prefix: readonly string[] = []): Promise<Running> {
    const port = await freePort();
    const { args, env } = spec.command(port);
    const argv = [...prefix, process.execPath, ...args];
    const { child, cut } = spawnTied(argv[0] as string, argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const running = new Running(spec, port, child, cut);
    live.add(running);
    const until = Date.now() + deadlineMs;
    let healthy = false;
    while (Date.now() < until) {
      if (running.exited !== null) break;
      healthy = healthy || (await healthOnce(port));
      if (healthy && running.readyCount >= spec.readyLines) {
        if (spec.workers === 1 || running.workerPids().length >= spec.workers) return running;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const why =
      running.exited !== null
        ? `exited (${running.exited})`
        : `not ready after ${deadlineMs} ms (health ${healthy ? 'ok' : 'never answered'}, ${running.readyCount}/${spec.readyLines} ready lines)`;
    const out = running.output();
    await running.stop();
    throw new Error(`${why}${out ? `; output:\n${out}` : ''}`);
  }

  /** SIGTERM to the group, SIGKILL after a grace period. Safe to call twice. */
  stop(graceMs = 3000): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const pids = [this.pid, ...this.workerPids()];
      if (this.exited === null) {
        this.signalGroup('SIGTERM');
        const timer = new Promise((r) => setTimeout(r, graceMs));
        await Promise.race([this.exitPromise, timer]);
      }
      // The group may outlive its leader (workers of a primary that exited first).
      this.signalGroup('SIGKILL');
      for (const p of pids) killQuietly(p, 'SIGKILL');
      await this.exitPromise;
      this.cut();
      this.child.stdin?.destroy();
      live.delete(this);
    })();
    return this.stopping;
  }

  signalGroup(sig: NodeJS.Signals): void {
    killQuietly(-this.pid, sig);
  }

  /** For exit handlers: the lifeline's end, closed (the group's watcher SIGKILLs what is left). */
  cutNow(): void {
    this.cut();
  }
}


const live = new Set<Running>();

/** For exit handlers: kill every contender still running, synchronously. */
export function killAllContendersNow(): void {
  for (const r of live) {
    for (const p of r.workerPids()) killQuietly(p, 'SIGKILL');
    r.signalGroup('SIGKILL');
    r.cutNow();
  }
}

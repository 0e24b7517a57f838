/**
 * The load generator runs in its own process (so its CPU is measured apart from the
 * servers'). This side forks it, hands it one workload at a time and samples CPU of the
 * primary, the workers and the client at the workload's start/end marks.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './contenders';
import { spawnTied } from './lifeline';
import { cpuMs, machineBusyMs, rssKb } from './proc';
import type { FromClient, MarkName, ToClient, WorkloadName, WorkloadParams, WorkloadResult } from './types';

/** Called at a mark, outside the measured window (see {@link ClientProcess.run}). */
export type MarkHook = (name: MarkName) => Promise<void>;

/** Processes of the server side to sample. */
export interface ServerPids {
  primary: number;
  workers(): number[];
}

interface Sample {
  t: number;
  primary: number | null;
  workers: Map<number, number | null>;
  client: number | null;
  primaryRss: number | null;
  machine: number;
}

/** CPU over the measured phase: % of one core, and ms. */
export interface CpuFigures {
  wallMs: number;
  primaryPct: number | null;
  workersPct: number | null;
  /** Each worker's share, largest first (shows a worker left idle). */
  workersEachPct: number[];
  clientPct: number | null;
  primaryMs: number | null;
  workersMs: number | null;
  primaryRssStartKb: number | null;
  /** At the 'half' mark, when the workload sets one (footprint: half the sessions done). */
  primaryRssHalfKb: number | null;
  primaryRssEndKb: number | null;
  /** CPU used by everything else on the machine meanwhile, % of one core: high means a disturbed figure. */
  otherPct: number | null;
}

export interface Measured {
  result: WorkloadResult;
  cpu: CpuFigures;
}

const ENTRY = path.join(__dirname, 'workloads', 'client.ts');

export class ClientProcess {
  private readonly child: ChildProcess;
  private readonly cut: () => void;
  private exited: string | null = null;
  private readonly exitPromise: Promise<void>;

  /** `prefix` runs before node in the same process (e.g. an `sh -c 'ulimit -n ...; exec'`). */
  private constructor(prefix: readonly string[], env: NodeJS.ProcessEnv) {
    // tsx's CJS hook only: with its ESM loader (--import tsx) every require() in the client
    // (xmlhttprequest-ssl requires 'http' per request) takes a round trip to the hooks thread.
    // Spawned like fork() (an IPC channel on fd 3), in its own group tied to the bench's life.
    const argv = [...prefix, process.execPath, '--require', 'tsx/cjs', ENTRY];
    ({ child: this.child, cut: this.cut } = spawnTied(argv[0] as string, argv.slice(1), {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }));
    live.add(this);
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = signal ?? `code ${code}`;
        live.delete(this);
        resolve();
      });
    });
  }

  static start(prefix: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): ClientProcess {
    return new ClientProcess(prefix, env);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  /**
   * Runs one workload; kills the client if it takes longer than `timeoutMs`. `onMark`, if
   * given, runs at each mark outside the measured window: before the 'start' sample, after the
   * others (the client waits for it, so slow reads of server state cost no measured time).
   */
  run(workload: WorkloadName, params: WorkloadParams, servers: ServerPids, timeoutMs: number, onMark?: MarkHook): Promise<Measured> {
    return new Promise((resolve, reject) => {
      const samples: Partial<Record<MarkName, Sample>> = {};
      const take = (): Sample => {
        const workers = new Map<number, number | null>();
        for (const w of servers.workers()) workers.set(w, cpuMs(w));
        return {
          t: performance.now(),
          primary: cpuMs(servers.primary),
          workers,
          client: cpuMs(this.pid),
          primaryRss: rssKb(servers.primary),
          machine: machineBusyMs(),
        };
      };
      const done = (err: Error | null, m?: Measured): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m as Measured);
      };
      const onMessage = (raw: unknown): void => {
        const msg = raw as FromClient;
        if (msg.type === 'mark') {
          const name = msg.name;
          if (!onMark) {
            samples[name] = take();
            this.send({ type: 'mark-ack' });
            return;
          }
          const before = name === 'start' ? onMark(name) : Promise.resolve();
          void before
            .then(() => {
              samples[name] = take();
              return name === 'start' ? undefined : onMark(name);
            })
            .then(
              () => this.send({ type: 'mark-ack' }),
              (e: unknown) => done(new Error(`mark hook at '${name}': ${(e as Error).message}`)),
            );
        } else if (msg.type === 'result') {
          const { start, end } = samples;
          if (!start || !end) return done(new Error('workload did not mark start and end'));
          done(null, { result: msg.result, cpu: cpuBetween(start, end, samples.half) });
        } else if (msg.type === 'error') {
          done(new Error(msg.message));
        }
      };
      const onExit = (): void => done(new Error(`client process exited (${this.exited ?? 'unknown'})`));
      const timer = setTimeout(() => {
        void this.stop();
        done(new Error(`client gave no result within ${Math.round(timeoutMs / 1000)} s (killed)`));
      }, timeoutMs);
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.send({ type: 'run', workload, params });
    });
  }

  private send(msg: ToClient): void {
    if (this.alive && this.child.connected) this.child.send(msg);
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.exited === null) this.child.kill('SIGKILL');
    await this.exitPromise;
    this.cut();
  }

  /** For exit handlers: SIGKILL it and its group, synchronously. */
  killNow(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // gone
    }
    this.cut();
  }
}

function cpuBetween(a: Sample, b: Sample, half: Sample | undefined): CpuFigures {
  const wallMs = b.t - a.t;
  const pct = (ms: number | null): number | null => (ms === null || wallMs <= 0 ? null : Math.round((ms / wallMs) * 1000) / 10);
  const diff = (x: number | null, y: number | null): number | null => (x === null || y === null ? null : y - x);
  let workersMs: number | null = null;
  const each: number[] = [];
  for (const [pid, before] of a.workers) {
    const d = diff(before, b.workers.get(pid) ?? null);
    if (d === null) continue;
    workersMs = (workersMs ?? 0) + d;
    each.push(pct(d) ?? 0);
  }
  const primaryMs = diff(a.primary, b.primary);
  const ours = (primaryMs ?? 0) + (workersMs ?? 0) + (diff(a.client, b.client) ?? 0);
  return {
    otherPct: pct(Math.max(0, b.machine - a.machine - ours)),
    wallMs,
    primaryPct: pct(primaryMs),
    workersPct: pct(workersMs),
    workersEachPct: each.sort((x, y) => y - x),
    clientPct: pct(diff(a.client, b.client)),
    primaryMs,
    workersMs,
    primaryRssStartKb: a.primaryRss,
    primaryRssHalfKb: half?.primaryRss ?? null,
    primaryRssEndKb: b.primaryRss,
  };
}

const live = new Set<ClientProcess>();

/** For exit handlers: kill every client process, synchronously. */
export function killAllClientsNow(): void {
  for (const c of live) c.killNow();
}

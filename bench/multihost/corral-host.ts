/** One simulated host: `corral start bench/app.js` bound to its own loopback address. */
import { execFile } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { ROOT } from '../contenders';
import { descendants } from '../proc';
import { ProcessGroup } from './group';

/** The built CLI (npm run build). */
export const CORRAL_CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

/** `--adapter`. */
export type Adapter = 'cluster' | 'redis' | 'redis-streams';

/** The flags of one host's `corral start`. */
export interface HostOptions {
  /** --host-id */
  id: string;
  /** The address it binds, e.g. 127.0.1.1. */
  address: string;
  port: number;
  workers: number;
  adapter: Adapter;
  /** Required by the Redis adapters. */
  redisUrl: string | null;
  /** --slot-ports BASE, or null. */
  slotPorts: number | null;
  /** Its control socket (one per host: two corrals on one machine must not share it). */
  controlPath: string;
}

/** The part of `corral status --json` the bench reads. */
export interface HostStatus {
  primaryPid: number;
  workers: { slot: number; pid: number | null; state: string; forwarded: number; relayed: number }[];
}

/** A running corral (its own process group), its workers and its control socket. */
export class CorralHost {
  private readyLines = 0;

  private constructor(
    readonly options: HostOptions,
    private readonly group: ProcessGroup,
  ) {
    group.onLine((line) => {
      if (/ready: serving/.test(line)) this.readyLines++;
    });
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.group.pid;
  }

  get exitedHow(): string | null {
    return this.group.exitedHow;
  }

  output(): string {
    return this.group.output();
  }

  workerPids(): number[] {
    return descendants(this.pid);
  }

  /** Starts corral and waits until every worker printed `ready: serving` and /health answers. */
  static async start(o: HostOptions, deadlineMs = 20_000): Promise<CorralHost> {
    const args = [CORRAL_CLI, 'start', 'bench/app.js', '--workers', String(o.workers), '--host', o.address, '--port', String(o.port)];
    args.push('--host-id', o.id, '--adapter', o.adapter, '--control', o.controlPath);
    if (o.redisUrl !== null) args.push('--redis', o.redisUrl);
    if (o.slotPorts !== null) args.push('--slot-ports', String(o.slotPorts));
    const group = new ProcessGroup(`corral ${o.id}`, process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, BENCH_MODE: 'corral', PORT: String(o.port), HOST: o.address },
    });
    const host = new CorralHost(o, group);
    const until = Date.now() + deadlineMs;
    let healthy = false;
    while (Date.now() < until && group.exitedHow === null) {
      healthy = healthy || (await healthOnce(o.address, o.port));
      if (healthy && host.readyLines >= o.workers && host.workerPids().length >= o.workers) return host;
      await new Promise((r) => setTimeout(r, 50));
    }
    const why =
      group.exitedHow !== null
        ? `exited (${group.exitedHow})`
        : `not ready after ${deadlineMs} ms (health ${healthy ? 'ok' : 'never answered'}, ${host.readyLines}/${o.workers} ready lines)`;
    await group.stop(2000);
    throw new Error(`corral ${o.id} on ${o.address}:${o.port} ${why}; output:\n${group.output()}`);
  }

  /** `corral status --json` through its control socket. */
  status(timeoutMs = 5000): Promise<HostStatus> {
    return new Promise((resolve, reject) => {
      execFile(process.execPath, [CORRAL_CLI, 'status', '--json', '--control', this.options.controlPath], { timeout: timeoutMs, cwd: ROOT }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`corral status (${this.id}): ${err.message.split('\n')[0]} ${stderr.trim().slice(0, 200)}`));
        try {
          resolve(parseStatus(stdout));
        } catch (e) {
          reject(new Error(`corral status (${this.id}): ${(e as Error).message}`));
        }
      });
    });
  }

  /** SIGTERM (corral drains), SIGKILL after the grace period. Idempotent. */
  stop(): Promise<void> {
    return this.group.stop(8000);
  }
}

function parseStatus(text: string): HostStatus {
  const raw: unknown = JSON.parse(text);
  const obj = (v: unknown): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null) throw new Error('unexpected status shape');
    return v as Record<string, unknown>;
  };
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const top = obj(raw);
  const workers = Array.isArray(top.workers) ? top.workers : [];
  return {
    primaryPid: num(obj(top.primary).pid),
    workers: workers.map((w) => {
      const x = obj(w);
      return {
        slot: num(x.slot),
        pid: typeof x.pid === 'number' ? x.pid : null,
        state: String(x.state),
        forwarded: num(x.forwarded),
        relayed: num(x.relayed),
      };
    }),
  };
}

function healthOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/health', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

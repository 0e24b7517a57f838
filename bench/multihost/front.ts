/**
 * The front balancer: nginx running the config `corral lb-config nginx` prints, started with
 * the tests' launcher (test/helpers/balancers.ts).
 */
import { execFile } from 'node:child_process';
import { readlinkSync, rmSync } from 'node:fs';
import { startNginx, type RunningBalancer } from '../../test/helpers/balancers';
import { ROOT } from '../contenders';
import { guardGroup } from '../lifeline';
import { descendants } from '../proc';
import { CORRAL_CLI } from './corral-host';

/** One host as lb-config's --hosts names it. */
export interface Upstream {
  id: string;
  address: string;
  port: number;
}

/** What `corral lb-config nginx` is asked for. */
export interface FrontOptions {
  hosts: readonly Upstream[];
  /** Port on 127.0.0.1. */
  listenPort: number;
  /** The hosts run --slot-ports BASE with this many workers: route to each slot's port. */
  slotPorts: { base: number; workers: number } | null;
}

/** A running nginx in front of the hosts. */
export class Front {
  private constructor(
    private readonly nginx: RunningBalancer,
    /** nginx's prefix directory (its cwd), removed by the exit handler if stop() never ran. */
    private readonly dir: string | null,
    readonly port: number,
    readonly configArgs: readonly string[],
    /** nginx is started by the tests' launcher (its own group): a guard ties it to the bench. */
    private readonly cutGuard: () => void,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** nginx's master and its worker processes. */
  pids(): number[] {
    const master = this.nginx.proc.pid;
    return master === undefined ? [] : [master, ...descendants(master)];
  }

  static async start(o: FrontOptions): Promise<Front> {
    const args = ['lb-config', 'nginx', '--hosts', o.hosts.map((h) => `${h.id}=${h.address}:${h.port}`).join(','), '--listen', `127.0.0.1:${o.listenPort}`];
    if (o.slotPorts !== null) args.push('--slot-ports', String(o.slotPorts.base), '--workers', String(o.slotPorts.workers));
    const config = await lbConfig(args);
    const nginx = await startNginx('suite', config, { host: '127.0.0.1', port: o.listenPort, timeoutMs: 10_000 });
    const cutGuard = nginx.proc.pid === undefined ? () => undefined : guardGroup(nginx.proc.pid);
    let dir: string | null = null;
    try {
      if (nginx.proc.pid !== undefined) dir = readlinkSync(`/proc/${nginx.proc.pid}/cwd`);
    } catch {
      // exited already: stop() below reports nothing, the next request will fail loudly
    }
    const front = new Front(nginx, dir, o.listenPort, args, cutGuard);
    live.add(front);
    return front;
  }

  /** Idempotent (the launcher's stop is). */
  async stop(): Promise<void> {
    await this.nginx.stop();
    this.cutGuard();
    live.delete(this);
  }

  /** For exit handlers: SIGKILL nginx's group and remove its directory, synchronously. */
  killNow(): void {
    const pid = this.nginx.proc.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.cutGuard();
    if (this.dir !== null && this.dir.includes('corral-nginx-')) rmSync(this.dir, { recursive: true, force: true });
  }
}

function lbConfig(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CORRAL_CLI, ...args], { cwd: ROOT, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`corral ${args.join(' ')}: ${err.message.split('\n')[0]} ${stderr.trim().slice(0, 300)}`));
      else resolve(stdout);
    });
  });
}

const live = new Set<Front>();

/** For exit handlers: kill every nginx still running. */
export function killAllFrontsNow(): void {
  for (const f of live) f.killNow();
}

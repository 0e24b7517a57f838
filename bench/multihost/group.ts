/**
 * A server process started in its own process group, so everything it forks (corral's
 * workers) is stopped with it: SIGTERM to the group, SIGKILL after a grace period.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnTied } from '../lifeline';
import { descendants, killQuietly } from '../proc';

export class ProcessGroup {
  private readonly tail: string[] = [];
  private exited: string | null = null;
  private readonly exitPromise: Promise<void>;
  private stopping: Promise<void> | null = null;
  private readonly child: ChildProcess;
  private readonly cut: () => void;
  private readonly listeners = new Set<(line: string) => void>();

  /**
   * Spawns `command args` detached (a new group tied to the bench's life: lifeline.ts), stdout
   * and stderr read line by line.
   */
  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ) {
    ({ child: this.child, cut: this.cut } = spawnTied(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
    live.add(this);
    this.exitPromise = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.exited ??= `could not start: ${err.message}`;
        resolve();
      });
      this.child.once('exit', (code, signal) => {
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
          this.tail.push(line.slice(0, 300));
          if (this.tail.length > 40) this.tail.shift();
          for (const l of this.listeners) l(line);
        }
      };
    };
    this.child.stdout?.on('data', lines());
    this.child.stderr?.on('data', lines());
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** How it ended, or null while it runs. */
  get exitedHow(): string | null {
    return this.exited;
  }

  /** Calls `fn` with every later output line. */
  onLine(fn: (line: string) => void): void {
    this.listeners.add(fn);
  }

  /** Its last output lines, for a failure report. */
  output(): string {
    return this.tail.join('\n');
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs = 6000): Promise<void> {
    this.stopping ??= (async () => {
      const pids = this.pid > 0 ? [this.pid, ...descendants(this.pid)] : [];
      if (this.exited === null) {
        this.signalGroup('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.exitPromise, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      // The group may outlive its leader (workers of a primary that exited first).
      this.signalGroup('SIGKILL');
      for (const p of pids) killQuietly(p, 'SIGKILL');
      await this.exitPromise;
      this.cut();
      live.delete(this);
    })();
    return this.stopping;
  }

  /** For exit handlers: SIGKILL the group and every descendant, synchronously. */
  killNow(): void {
    if (this.pid <= 0) return;
    for (const p of descendants(this.pid)) killQuietly(p, 'SIGKILL');
    this.signalGroup('SIGKILL');
    this.cut();
  }

  private signalGroup(sig: NodeJS.Signals): void {
    if (this.pid > 0) killQuietly(-this.pid, sig);
  }
}


const live = new Set<ProcessGroup>();

/** For exit handlers: kill every group still running, synchronously. */
export function killAllGroupsNow(): void {
  for (const g of live) g.killNow();
}

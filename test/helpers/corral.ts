import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { PrimaryStatus, WorkerStatus } from '../../src/control/protocol';

export const ROOT = join(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const fixture = (name: string): string => join(ROOT, 'test', 'fixtures', name);

/**
 * Where to register cleanup: a test's context, or `'suite'` when a suite shares one corral
 * and calls `stop()` in its own `after` hook.
 */
export type Cleanup = Pick<TestContext, 'after'> | 'suite';

/** A `corral start` child process, with what it printed. */
export interface Running {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Wait until the output matches, with a deadline. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM and wait for the exit; resolves the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  workers?: number;
  /** Address to bind. Default 127.0.0.1; null: no --host (every interface), reached on 127.0.0.1. */
  host?: string | null;
  /** Default 0 (any free port). */
  port?: number;
  sticky?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Run corral under this open-files limit (`prlimit --nofile=soft:hard`), as a shell's `ulimit -n` would. */
  nofile?: [soft: number, hard: number];
  /** Run corral on these CPUs only (`taskset -c LIST`): what `--workers auto` counts. */
  cpus?: string;
  /** Run corral as the leader of its own process group (as a terminal's job): signals to `-pid` reach it and its workers, as Ctrl-C does. */
  ownGroup?: boolean;
  /** Workers that must report ready before resolving. Default: all. */
  waitReady?: number;
  timeoutMs?: number;
}

/**
 * Start `corral start <app>` on 127.0.0.1, port 0, and resolve once every worker is ready.
 * The process is stopped after the test, whatever happens.
 */
export async function startCorral(t: Cleanup, app: string, options: StartOptions = {}): Promise<Running> {
  const workers = options.workers ?? 2;
  const host = options.host ?? '127.0.0.1';
  const hostArgs = options.host === null ? [] : ['--host', host];
  const args = [CLI, 'start', app, '--workers', String(workers), '--port', String(options.port ?? 0), ...hostArgs, '--sticky', options.sticky ?? 'sid', ...(options.args ?? [])];
  // prlimit and taskset exec node themselves, so the child's pid is corral's primary either way.
  let [command, argv] = [process.execPath, args];
  if (options.nofile !== undefined) [command, argv] = ['prlimit', [`--nofile=${options.nofile[0]}:${options.nofile[1]}`, command, ...argv]];
  if (options.cpus !== undefined) [command, argv] = ['taskset', ['-c', options.cpus, command, ...argv]];
  const proc = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownGroup === true,
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const w of [...waiters]) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = once(proc, 'exit').then(([code]) => code as number | null);

  const waitForOutput = (pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = text.match(pattern);
        if (m) {
          cleanup();
          resolve(m);
        } else if (proc.exitCode !== null) {
          cleanup();
          reject(new Error(`corral exited (${proc.exitCode}) before printing ${pattern}:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} in:\n${text}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      proc.once('exit', check);
      check();
    });

  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    })();
    return stopping;
  };
  if (t !== 'suite') t.after(stop);

  const bound = options.host === null ? '(?:::|0\\.0\\.0\\.0)' : host.replace(/\./g, '\\.');
  const [, portText] = await waitForOutput(new RegExp(`listening on ${bound}:(\\d+)`), options.timeoutMs);
  const port = Number(portText);
  const want = options.waitReady ?? workers;
  if (want > 0) await waitForOutput(new RegExp(`(?:ready: serving[^]*){${want}}`), options.timeoutMs);
  return { proc, port, url: `http://${host}:${port}`, output: () => text, waitForOutput, stop };
}

/** Poll `condition` until true, or fail after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `corral status --json` of a running corral, through its control socket. */
export function statusOf(corral: Running): { primary: PrimaryStatus; workers: WorkerStatus[] } {
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const r = spawnSync(process.execPath, [CLI, 'status', '--json', '--control', path], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { primary: PrimaryStatus; workers: WorkerStatus[] };
}

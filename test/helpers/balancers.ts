import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './corral';

export { freePort, freePortRun } from './ports';

/** Where Debian puts them; override with $NGINX / $HAPROXY. */
export const NGINX = process.env['NGINX'] ?? '/usr/sbin/nginx';
export const HAPROXY = process.env['HAPROXY'] ?? '/usr/sbin/haproxy';

/** A real nginx or HAProxy running a config we wrote, in the foreground. */
export interface RunningBalancer {
  readonly proc: ChildProcess;
  /** The address and port it accepts on (from the config's first listen/bind, or as given). */
  readonly host: string;
  readonly port: number;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Stop it (SIGTERM, then SIGKILL after a deadline) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface BalancerOptions {
  /** Where to wait for it to accept; default: parsed from the config. */
  host?: string;
  port?: number;
  /** Deadline to accept connections. Default 10 s. */
  timeoutMs?: number;
}

/** Result of `nginx -t` / `haproxy -c`. */
export interface CheckResult {
  readonly ok: boolean;
  readonly output: string;
}

/**
 * Run `configText` in a real nginx: `nginx -p DIR -c DIR/nginx.conf -e stderr -g 'daemon off;'`
 * in a fresh temp directory, and resolve once it accepts connections. Stopped after the test.
 */
export async function startNginx(t: Cleanup, configText: string, options: BalancerOptions = {}): Promise<RunningBalancer> {
  const where = whereOf(configText, /^[^#\n]*?\blisten\s+([^\s;]+)/m, options);
  const dir = await workDir('nginx');
  const file = join(dir, 'nginx.conf');
  await writeFile(file, configText);
  return run(t, 'nginx', NGINX, ['-p', `${dir}/`, '-c', file, '-e', 'stderr', '-g', 'daemon off;'], dir, where, options.timeoutMs);
}

/**
 * Run `configText` in a real HAProxy (`haproxy -f FILE -db`, in the foreground) and resolve once it
 * accepts connections. Stopped after the test.
 */
export async function startHaproxy(t: Cleanup, configText: string, options: BalancerOptions = {}): Promise<RunningBalancer> {
  const where = whereOf(configText, /^[^#\n]*?\bbind\s+(\S+)/m, options);
  const dir = await workDir('haproxy');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, configText);
  return run(t, 'haproxy', HAPROXY, ['-f', file, '-db'], dir, where, options.timeoutMs);
}

/** `nginx -t` on a config text, in a throwaway prefix directory. */
export async function checkNginx(configText: string): Promise<CheckResult> {
  const dir = await workDir('nginx');
  try {
    const file = join(dir, 'nginx.conf');
    await writeFile(file, configText);
    return await runToEnd(NGINX, ['-t', '-p', `${dir}/`, '-c', file, '-e', 'stderr']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `haproxy -c` on a config text. */
export async function checkHaproxy(configText: string): Promise<CheckResult> {
  const dir = await workDir('haproxy');
  try {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, configText);
    return await runToEnd(HAPROXY, ['-c', '-f', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function run(t: Cleanup, name: string, bin: string, args: string[], dir: string, where: { host: string; port: number }, timeoutMs = 10_000): Promise<RunningBalancer> {
  // Its own process group, so a deadline kill reaches nginx's workers too, not only its master.
  const proc = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  proc.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    // 'close', not 'exit': it comes after the last of its output, which the failure message quotes.
    else proc.once('close', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
        signalGroup(proc.pid, 'SIGTERM');
        if (!(await within(exited, 5000))) {
          signalGroup(proc.pid, 'SIGKILL');
          await within(exited, 2000);
        }
      }
      await rm(dir, { recursive: true, force: true });
    })());
  if (t !== 'suite') t.after(stop);
  const running: RunningBalancer = { proc, host: where.host, port: where.port, output: () => text, stop };

  const deadline = Date.now() + timeoutMs;
  let failure: string | undefined;
  void spawnError.then((err) => (failure = `${name} could not be started from ${bin}: ${err.message} (install it: apt-get install -y ${name === 'nginx' ? 'nginx-light' : 'haproxy'})`));
  void exited.then(() => (failure ??= `${name} exited (code ${proc.exitCode}, signal ${proc.signalCode}) before accepting on ${where.host}:${where.port}:\n${text}`));
  while (failure === undefined) {
    if (await accepts(where.host, where.port)) return running;
    if (Date.now() > deadline) failure = `${name} did not accept on ${where.host}:${where.port} within ${timeoutMs} ms:\n${text}`;
    else await delay(25);
  }
  await stop();
  throw new Error(failure);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function runToEnd(bin: string, args: string[]): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    proc.stdout.on('data', (c: Buffer) => (text += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (text += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${bin} could not be started: ${err.message}`));
    });
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, output: text });
    });
  });
}

async function workDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `corral-${name}-`));
  // nginx started as root runs its workers as "nobody": they must reach the temp dirs inside.
  await chmod(dir, 0o755);
  return dir;
}

/**
 * Where to wait for the balancer: as given, else its first `listen 80;`, `listen 127.0.0.1:8080;`,
 * `bind :80` or `bind [::1]:8080` (every interface is reached through loopback).
 */
function whereOf(config: string, pattern: RegExp, options: BalancerOptions): { host: string; port: number } {
  if (options.host !== undefined && options.port !== undefined) return { host: options.host, port: options.port };
  const value = pattern.exec(config)?.[1];
  const m = value === undefined ? null : /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(value);
  if (!m) throw new Error(`cannot tell where the config listens (${String(value)}); pass { host, port }`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  return {
    host: options.host ?? (host === '0.0.0.0' || host === '*' ? '127.0.0.1' : host === '::' ? '::1' : host),
    port: options.port ?? Number(m[3]),
  };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { probeSocket } from '../control/paths';
import { CorralError } from '../errors';
import type { Config } from '../options';
import { ensureStateDirs, logFileOf, readRecord, writeRecord, type AppRecord } from './state';

/** What a daemon tells the command that started it, once over IPC. */
export type DaemonReport = { type: 'ready'; pid: number; url: string; controlPath: string; workers: number } | { type: 'failed'; message: string };

/** The flags that make `corral start` detach; dropped from what the daemon itself runs. */
const DAEMON_FLAGS = new Set(['-d', '--daemon']);

/** `corral start` arguments without the daemon flags (those after `--` are the app's and kept). */
export function withoutDaemonFlags(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  const own = end < 0 ? args : args.slice(0, end);
  return [...own.filter((a) => !DAEMON_FLAGS.has(a)), ...(end < 0 ? [] : args.slice(end))];
}

/** Whether the cluster of this name runs now (its control socket answers). */
export async function isRunning(name: string): Promise<boolean> {
  const record = readRecord(name);
  return record !== undefined && (await probeSocket(record.controlPath)) === 'answers';
}

/**
 * `corral start -d`: start the same command detached (its own session, output to a rotating
 * log file), and return once every worker is ready, or with the daemon's error when it could
 * not start. `args`: the `corral start ...` arguments as the user gave them.
 */
export async function startDaemon(config: Readonly<Config>, cli: string, args: readonly string[], cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<DaemonReport> {
  if (await isRunning(config.name)) {
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `a corral named ${config.name} is running already: \`corral restart ${config.name}\` restarts it, \`corral stop ${config.name}\` stops it, or give this one another --name.`);
  }
  ensureStateDirs(env);
  const logFile = logFileOf(config.name, env);
  const own = withoutDaemonFlags(args);
  const end = own.indexOf('--');
  const argv = end < 0 ? [...own, '--log-file', logFile] : [...own.slice(0, end), '--log-file', logFile, ...own.slice(end)];
  const child = spawn(process.execPath, [...process.execArgv, cli, 'start', ...argv], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const deadline = config.readyTimeout * Math.min(3, config.maxRestarts + 1) + 15_000;
  const report = await new Promise<DaemonReport>((resolve) => {
    const timer = setTimeout(() => resolve({ type: 'failed', message: `not ready within ${deadline} ms; it keeps running: \`corral logs ${config.name}\` says why, \`corral stop ${config.name}\` stops it.` }), deadline);
    child.once('message', (message: DaemonReport) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ type: 'failed', message: `it exited (${signal ?? `code ${code}`}) before it was ready.` });
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ type: 'failed', message: err.message });
    });
  });
  if (child.connected) child.disconnect();
  child.unref();
  if (report.type === 'failed') return { type: 'failed', message: `${config.name} did not start: ${report.message}\n${tail(logFile, 20)}` };
  return report;
}

/** The daemon's side: remember how it was started, then tell the command that started it. */
export function reportReady(config: Readonly<Config>, args: readonly string[], logFile: string, report: Extract<DaemonReport, { type: 'ready' }>): void {
  writeRecord({ name: config.name, killTimeout: config.killTimeout, args: withoutLogFile(args), cwd: process.cwd(), env: Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)), logFile, pid: process.pid, controlPath: report.controlPath, startedAt: Date.now() });
  tell(report);
}

/** Tell the starting command why the daemon could not start (a no-op in the foreground). */
export function tell(report: DaemonReport): void {
  if (process.send === undefined || !process.connected) return;
  process.send(report, () => {
    if (process.connected) process.disconnect();
  });
}

function withoutLogFile(args: readonly string[]): string[] {
  const at = args.indexOf('--log-file');
  return at < 0 ? [...args] : [...args.slice(0, at), ...args.slice(at + 2)];
}

/** The last `lines` lines of a file, or '' if it cannot be read. */
export function tail(path: string, lines: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

/**
 * Start a recorded cluster again as it was started (`restart`, `resurrect`): the same
 * `corral start ... -d` in its directory with its environment. Resolves the command's exit code
 * and what it printed.
 */
export function relaunch(record: AppRecord, cli: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, 'start', ...withDaemonFlag(record.args)], { cwd: record.cwd, env: relaunchEnv(record.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err) => resolve({ code: 1, output: err.message }));
    child.once('exit', (code) => resolve({ code: code ?? 1, output: output.trimEnd() }));
  });
}

/**
 * The recorded environment, but where this machine keeps runtime files now: a login shell's
 * XDG_RUNTIME_DIR (/run/user/UID) may not exist at boot, when `resurrect` runs from a unit.
 */
function relaunchEnv(recorded: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...recorded };
  delete env['XDG_RUNTIME_DIR'];
  if (process.env['XDG_RUNTIME_DIR'] !== undefined) env['XDG_RUNTIME_DIR'] = process.env['XDG_RUNTIME_DIR'];
  return env;
}

function withDaemonFlag(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? [...args, '--daemon'] : [...args.slice(0, end), '--daemon', ...args.slice(end)];
}

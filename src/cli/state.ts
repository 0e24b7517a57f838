import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What corral keeps between commands, as PM2 keeps ~/.pm2: one record per named cluster
 * started with `corral start -d` (how to start it again), its log files, and the list `corral
 * save` wrote. `$XDG_STATE_HOME/corral`, else `~/.corral`; private to the user (0700; records
 * hold the environment the cluster was started with, so they are 0600).
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_STATE_HOME'];
  return xdg !== undefined && xdg !== '' ? join(xdg, 'corral') : join(homedir(), '.corral');
}

/** How a daemon cluster was started, so `restart`, `resurrect` and `startup` can do it again. */
export interface AppRecord {
  readonly name: string;
  /** `corral start` arguments, without the daemon flags. */
  readonly args: readonly string[];
  readonly cwd: string;
  /** The environment it was started with (PM2 keeps it too). */
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  /** The primary's pid while it runs (it may have stopped since: ask its control socket). */
  readonly pid: number;
  readonly controlPath: string;
  readonly startedAt: number;
  /** Its --kill-timeout (ms), for a unit's stop timeout; absent in records of older versions. */
  readonly killTimeout?: number;
}

function dirs(env: NodeJS.ProcessEnv = process.env): { base: string; apps: string; logs: string } {
  const base = stateDir(env);
  return { base, apps: join(base, 'apps'), logs: join(base, 'logs') };
}

/** Create the state directories (private), and return them. */
export function ensureStateDirs(env: NodeJS.ProcessEnv = process.env): { base: string; apps: string; logs: string } {
  const d = dirs(env);
  mkdirSync(d.base, { recursive: true, mode: 0o700 });
  chmodSync(d.base, 0o700);
  mkdirSync(d.apps, { recursive: true, mode: 0o700 });
  mkdirSync(d.logs, { recursive: true, mode: 0o700 });
  return d;
}

export function logFileOf(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dirs(env).logs, `${name}.log`);
}

/** Write a record atomically (rename), 0600. */
export function writeRecord(record: AppRecord, env: NodeJS.ProcessEnv = process.env): void {
  const { apps } = ensureStateDirs(env);
  const file = join(apps, `${record.name}.json`);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

export function readRecord(name: string, env: NodeJS.ProcessEnv = process.env): AppRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dirs(env).apps, `${name}.json`), 'utf8')) as AppRecord;
  } catch {
    return undefined;
  }
}

/** Every record, by name. A file that does not parse is skipped. */
export function readRecords(env: NodeJS.ProcessEnv = process.env): AppRecord[] {
  let names: string[];
  try {
    names = readdirSync(dirs(env).apps).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((n) => readRecord(n.slice(0, -'.json'.length), env)).filter((r): r is AppRecord => r !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

export function removeRecord(name: string, env: NodeJS.ProcessEnv = process.env): void {
  rmSync(join(dirs(env).apps, `${name}.json`), { force: true });
}

/** The list `corral save` keeps for `corral resurrect`. */
export function dumpFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirs(env).base, 'dump.json');
}

import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { CorralError } from './errors';
import { STRATEGIES, type Strategy } from './routing';

/** What a user may give corral (CLI flags, environment, or the `start()` API). */
export interface CorralOptions {
  /** Path of the app's entry script (CommonJS or ESM), resolved against the cwd. */
  app: string;
  /** Arguments the app sees in `process.argv.slice(2)`. */
  appArgs?: readonly string[];
  /** Worker processes: a positive integer, or `'auto'` for one per core. Default `'auto'`. */
  workers?: number | 'auto' | string;
  /** Public port the primary listens on; the app's `listen()` on this port is served through corral. Default `$PORT` or 3000. `0` picks a free port. */
  port?: number | string;
  /** Address to bind. Default: every interface (like `server.listen(port)`). */
  host?: string;
  /** Sticky strategy: `sid` (default), `ip` or `none`. */
  sticky?: Strategy | string;
  /** Most bytes the primary reads to find a request line before answering 414. Default 8192. */
  maxHeadBytes?: number | string;
  /** Milliseconds a new connection may take to send its request line. Default 10000. */
  headTimeout?: number | string;
  /** Milliseconds workers get to finish in-flight work on shutdown before being killed. Default 5000. */
  killTimeout?: number | string;
}

/** The validated, fully-resolved configuration. Nothing downstream re-checks it. */
export interface Config {
  readonly app: string;
  readonly appArgs: readonly string[];
  readonly workers: number;
  readonly port: number;
  readonly host: string | undefined;
  readonly sticky: Strategy;
  readonly maxHeadBytes: number;
  readonly headTimeout: number;
  readonly killTimeout: number;
}

/** Turn user input into a frozen {@link Config}, or throw `ERR_CORRAL_BAD_OPTION` naming the option. */
export function resolveConfig(input: CorralOptions, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  if (typeof input.app !== 'string' || input.app === '') {
    throw bad('app', 'the path of your app\'s entry script, e.g. `corral start app.js`', input.app);
  }
  const app = resolve(input.app);
  if (!existsSync(app) || !statSync(app).isFile()) {
    throw new CorralError('ERR_CORRAL_APP_NOT_FOUND', `app not found: ${app} is not a file. Give the path of your server's entry script, e.g. \`corral start server.js\`.`);
  }
  const config: Config = {
    app,
    appArgs: [...(input.appArgs ?? [])],
    workers: workersOf(input.workers ?? 'auto'),
    port: integer('port', input.port ?? env['PORT'] ?? 3000, 0, 65535, 'a TCP port from 0 to 65535'),
    host: hostOf(input.host),
    sticky: stickyOf(input.sticky ?? 'sid'),
    maxHeadBytes: integer('maxHeadBytes', input.maxHeadBytes ?? 8192, 64, 1 << 20, 'a byte count from 64 to 1048576'),
    headTimeout: integer('headTimeout', input.headTimeout ?? 10_000, 10, 600_000, 'milliseconds from 10 to 600000'),
    killTimeout: integer('killTimeout', input.killTimeout ?? 5_000, 0, 3_600_000, 'milliseconds from 0 to 3600000'),
  };
  return Object.freeze(config);
}

function workersOf(value: unknown): number {
  if (value === 'auto') return availableParallelism();
  return integer('workers', value, 1, 1024, 'a whole number from 1 to 1024, or "auto" (one per core)');
}

function stickyOf(value: unknown): Strategy {
  if (typeof value === 'string' && (STRATEGIES as readonly string[]).includes(value)) return value as Strategy;
  throw bad('sticky', `one of ${STRATEGIES.map((s) => `"${s}"`).join(', ')}`, value);
}

function hostOf(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && /^[\w.:%-]+$/.test(value)) return value;
  throw bad('host', 'an IP address or host name, e.g. 127.0.0.1 or ::', value);
}

function integer(name: string, value: unknown, min: number, max: number, accepted: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(name, accepted, value);
  return n;
}

function bad(name: string, accepted: string, got: unknown): CorralError {
  const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return new CorralError('ERR_CORRAL_BAD_OPTION', `bad option ${flag} (${name}): expected ${accepted}, got ${JSON.stringify(got) ?? String(got)}.`);
}

import { existsSync, statSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { defaultControlPath } from './control/paths';
import { CorralError, shown } from './errors';
import { LOG_FORMATS, type LogFormat } from './output';
import { HOST_ID_PATTERN } from './protocol/sid';
import { STRATEGIES, type Strategy } from './routing';
import { parseTrustProxy } from './routing/trust';

/** How Socket.IO servers of different workers (and hosts) reach each other. */
export type AdapterKind = 'cluster' | 'redis' | 'redis-streams';
export const ADAPTERS: readonly AdapterKind[] = ['cluster', 'redis', 'redis-streams'];

/** What a user may give corral (CLI flags, a config file, or the `start()` API). */
export interface CorralOptions {
  /** Path of the app's entry script (CommonJS or ESM), resolved against the cwd. */
  app: string;
  /** Arguments the app sees in `process.argv.slice(2)`. */
  appArgs?: readonly string[];
  /** Worker processes: a positive integer, or `'auto'` for one per core. Default `'auto'`. */
  workers?: number | 'auto' | string;
  /** Public port; the app's `listen()` on it is served through corral. Default `$PORT` or 3000. `0` picks a free port. */
  port?: number | string;
  /** Address to bind. Default: every interface (like `server.listen(port)`). */
  host?: string;
  /**
   * Sticky strategy: `sid` (default: the Engine.IO session), `ip` (client address), `cookie`
   * (a cookie corral sets), `query:NAME` or `header:NAME` (a key the app names), or `none`.
   */
  sticky?: string;
  /** Every connection (from a `trustProxy` peer, when given) starts with a PROXY protocol v1 or v2 header. Default false. */
  proxyProtocol?: boolean;
  /**
   * Proxies trusted to send PROXY headers and `X-Forwarded-For`: addresses or CIDRs, a
   * comma-separated string or an array (`127.0.0.1/32,10.0.0.0/8`; `loopback`, `private`). Default: none.
   */
  trustProxy?: string | readonly string[];
  /** Most bytes the primary reads of a request head (the request line, or every header for `cookie` and `header:`) before answering 414 or 431. Default 8192. */
  maxHeadBytes?: number | string;
  /** Milliseconds a new connection may take to send its request line. Default 10000. */
  headTimeout?: number | string;
  /** Milliseconds a draining worker gets to finish before it is killed. Default 5000. */
  killTimeout?: number | string;
  /** Milliseconds a new worker gets to become ready before it is killed and counted as a failure. Default 30000. */
  readyTimeout?: number | string;
  /** Ready only when the app calls `ready()` (not when it listens). Default false. */
  waitReady?: boolean;
  /** Milliseconds a worker must stay up for its slot's restart backoff to reset. Default 1000. */
  minUptime?: number | string;
  /** Restarts of one slot within `restartWindow` that make a crash loop (the slot stops). Default 10. */
  maxRestarts?: number | string;
  /** Milliseconds over which restarts are counted. Default 60000. */
  restartWindow?: number | string;
  /** Restart a worker (gracefully) whose RSS passes this: bytes, or `'512M'`, `'1G'`. Default: no limit. */
  maxMemory?: number | string;
  /**
   * Memory the primary gives Socket.IO connection-state recovery (apps whose `Server` sets
   * `connectionStateRecovery`, on the embedded cluster adapter): the packet log and the
   * sessions that left, in bytes or `'64M'`. Past it the oldest packets go first. Default 64M.
   */
  recoveryMemory?: number | string;
  /** Path of the control socket. Default `$XDG_RUNTIME_DIR/corral/[<host>-]<port>.sock` (else `<tmpdir>/corral-<uid>/...`). */
  control?: string;
  /** This host's id, written in every session id so a front balancer can route on it. Default: derived from the hostname. */
  hostId?: string;
  /** Cross-worker messaging: `cluster` (IPC through the primary, the default), `redis` or `redis-streams`. */
  adapter?: AdapterKind | string;
  /** Redis URL for the Redis adapters (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). Alone, it selects `redis-streams`. */
  redis?: string;
  /** Also serve slot `i` on port `slotPorts + i` (same address), handed straight to that slot. Default: off. */
  slotPorts?: number | string;
  /** Milliseconds a worker may stay unresponsive (no heartbeat) before it is killed and replaced; 0 = never. Default 30000. */
  unresponsiveTimeout?: number | string;
  /** What `corral list|logs|stop|restart NAME` call this cluster. Default: the app's file name without extension. */
  name?: string;
  /** Environment variables for the app, over corral's own environment (a config file's `env`, plus `env_<name>` with `--env <name>`). */
  env?: Readonly<Record<string, string | number | boolean>>;
  /** Node.js options for the workers (`--import tsx --max-old-space-size=512`): a string split on spaces, or an array. */
  nodeArgs?: string | readonly string[];
  /** Serve /metrics (Prometheus), /healthz and /readyz on this port; 0 or absent: off. */
  metrics?: number | string;
  /** Address of the metrics port. Default 127.0.0.1 (loopback: metrics say a lot about a host). */
  metricsHost?: string;
  /** Also serve a live dashboard on the metrics port (reload and scale need the token printed at start). Default false. */
  dashboard?: boolean;
  /** How corral writes its lines: `text` (default) or `json` (one object per line, with `time`, `level`, `event`). */
  logFormat?: string;
  /** Rolling reload when a file changes: `true` watches the app's directory, or give paths. `node_modules` and dot-directories are ignored. Default false. */
  watch?: boolean | string | readonly string[];
}

/** The validated, fully-resolved configuration. Nothing downstream re-checks it. */
export interface Config {
  readonly app: string;
  readonly appArgs: readonly string[];
  readonly workers: number;
  readonly port: number;
  readonly host: string | undefined;
  readonly sticky: Strategy;
  /** The query parameter (`query`) or lower-case header name (`header`) keyed on; '' otherwise. */
  readonly stickyKey: string;
  readonly proxyProtocol: boolean;
  /** Normalized CIDRs (`10.0.0.0/8`); empty = no proxy is trusted (with `proxyProtocol`: every peer must send a header). */
  readonly trustProxy: readonly string[];
  readonly maxHeadBytes: number;
  readonly headTimeout: number;
  readonly killTimeout: number;
  readonly readyTimeout: number;
  readonly waitReady: boolean;
  readonly minUptime: number;
  readonly maxRestarts: number;
  readonly restartWindow: number;
  /** Bytes; 0 = no limit. */
  readonly maxMemory: number;
  /** Bytes, at least 1 MiB. */
  readonly recoveryMemory: number;
  /** Control socket path; '' = derive from the bound port once known. */
  readonly control: string;
  /** `[a-z0-9-]`, at most 63 characters. */
  readonly hostId: string;
  readonly adapter: AdapterKind;
  /** '' unless a Redis adapter is chosen. */
  readonly redis: string;
  /** First slot port; 0 = no slot ports. */
  readonly slotPorts: number;
  /** 0 = never replace an unresponsive worker. */
  readonly unresponsiveTimeout: number;
  readonly name: string;
  /** Added to the workers' environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly nodeArgs: readonly string[];
  /** Absolute paths to watch; empty = no watching. */
  readonly watch: readonly string[];
  readonly logFormat: LogFormat;
  /** 0 = no metrics endpoint. */
  readonly metrics: number;
  readonly metricsHost: string;
  readonly dashboard: boolean;
}

/** Every option name a config file may use. */
export const OPTION_NAMES: readonly (keyof CorralOptions)[] = [
  'app', 'appArgs', 'workers', 'port', 'host', 'sticky', 'proxyProtocol', 'trustProxy', 'maxHeadBytes', 'headTimeout', 'killTimeout',
  'readyTimeout', 'waitReady', 'minUptime', 'maxRestarts', 'restartWindow', 'maxMemory', 'recoveryMemory', 'control',
  'hostId', 'adapter', 'redis', 'slotPorts', 'unresponsiveTimeout', 'name', 'env', 'nodeArgs', 'watch', 'logFormat', 'metrics', 'metricsHost', 'dashboard',
];

const MS = 'milliseconds from';

/** Turn user input into a frozen {@link Config}, or throw `ERR_CORRAL_BAD_OPTION` naming the option. */
export function resolveConfig(input: CorralOptions, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  for (const key of Object.keys(input)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) throw bad(key, `one of the options ${OPTION_NAMES.join(', ')}`, key, 'unknown option');
  }
  if (typeof input.app !== 'string' || input.app === '') {
    // The app is an argument, not a flag: name it the way the user gives it.
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `no app to start: give your server's entry script, \`corral start server.js\`, or "app" in corral.config.json (got ${input.app === undefined ? 'nothing' : shown(input.app)}).`);
  }
  const app = resolve(input.app);
  if (!existsSync(app) || !statSync(app).isFile()) {
    throw new CorralError('ERR_CORRAL_APP_NOT_FOUND', `app not found: ${app} is not a file. Give the path of your server's entry script, e.g. \`corral start server.js\`.`);
  }
  const port = integer('port', input.port ?? env['PORT'] ?? 3000, 0, 65535, 'a TCP port from 0 to 65535');
  const workers = workersOf(input.workers ?? 'auto');
  const host = hostOf(input.host);
  const { adapter, redis } = adapterOf(input.adapter, input.redis);
  const { sticky, stickyKey } = stickyOf(input.sticky ?? 'sid');
  const config: Config = {
    app,
    appArgs: appArgsOf(input.appArgs),
    workers,
    port,
    host,
    sticky,
    stickyKey,
    proxyProtocol: booleanOf('proxyProtocol', input.proxyProtocol ?? false),
    trustProxy: parseTrustProxy(input.trustProxy ?? []),
    maxHeadBytes: integer('maxHeadBytes', input.maxHeadBytes ?? 8192, 64, 1 << 20, 'a byte count from 64 to 1048576'),
    headTimeout: integer('headTimeout', input.headTimeout ?? 10_000, 10, 600_000, `${MS} 10 to 600000`),
    killTimeout: integer('killTimeout', input.killTimeout ?? 5_000, 0, 3_600_000, `${MS} 0 to 3600000`),
    readyTimeout: integer('readyTimeout', input.readyTimeout ?? 30_000, 100, 3_600_000, `${MS} 100 to 3600000`),
    waitReady: booleanOf('waitReady', input.waitReady ?? false),
    minUptime: integer('minUptime', input.minUptime ?? 1000, 0, 3_600_000, `${MS} 0 to 3600000`),
    maxRestarts: integer('maxRestarts', input.maxRestarts ?? 10, 1, 1_000_000, 'a whole number from 1 up'),
    restartWindow: integer('restartWindow', input.restartWindow ?? 60_000, 100, 86_400_000, `${MS} 100 to 86400000`),
    maxMemory: bytesOf('maxMemory', input.maxMemory),
    recoveryMemory: input.recoveryMemory === undefined ? 64 * 1024 ** 2 : capOf('recoveryMemory', input.recoveryMemory),
    control: controlOf(input.control, port, host, env),
    hostId: input.hostId === undefined || input.hostId === '' ? defaultHostId() : hostIdOf(input.hostId),
    adapter,
    redis,
    slotPorts: slotPortsOf(input.slotPorts, workers, port),
    unresponsiveTimeout: integer('unresponsiveTimeout', input.unresponsiveTimeout ?? 30_000, 0, 86_400_000, `${MS} 0 (never) to 86400000`),
    name: input.name === undefined || input.name === '' ? nameOfApp(app) : nameOf(input.name),
    env: envOf(input.env),
    nodeArgs: nodeArgsOf(input.nodeArgs),
    watch: watchOf(input.watch, app),
    logFormat: logFormatOf(input.logFormat),
    metrics: input.metrics === undefined || input.metrics === '' ? 0 : integer('metrics', input.metrics, 0, 65535, 'a TCP port for /metrics, /healthz and /readyz (0: off)'),
    metricsHost: input.metricsHost === undefined || input.metricsHost === '' ? '127.0.0.1' : hostOfMetrics(input.metricsHost),
    dashboard: booleanOf('dashboard', input.dashboard ?? false),
  };
  if (config.dashboard && config.metrics === 0) throw bad('dashboard', 'a --metrics PORT to serve it on, e.g. --metrics 9100 --dashboard', input.dashboard);
  if (config.metrics !== 0 && config.metrics === config.port) throw bad('metrics', `a port other than the public port ${port}`, input.metrics);
  return Object.freeze(config);
}

/**
 * The port of a running corral that `corral status|reload|stop|scale` address (`-p`): 1..65535,
 * default `$PORT`, else 3000.
 */
export function targetPortOf(value: unknown, env: NodeJS.ProcessEnv = process.env): number {
  return integer('port', value ?? env['PORT'] ?? 3000, 1, 65535, 'the TCP port a running corral serves, from 1 to 65535');
}

/**
 * The host id when none is given: the machine's host name, first DNS label, lower-cased, every
 * run of characters outside `[a-z0-9-]` turned into one `-` (`Web_01.example.com` -> `web-01`).
 * In Kubernetes that is the pod name. `host` if nothing usable is left.
 */
export function defaultHostId(name: string = hostname()): string {
  const label = name.split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 63).replace(/-+$/, '');
  return HOST_ID_PATTERN.test(label) ? label : 'host';
}

/** What a cluster's name may be: safe in a file name and a systemd unit name. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The default name: the app's file name without its extension (`server.js` gives `server`). */
function nameOfApp(app: string): string {
  const base = (app.split('/').pop() ?? 'app').replace(/\.[cm]?[jt]s$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return NAME_PATTERN.test(base) ? base : 'app';
}

/** A `--name` as commands take it. */
export function nameOf(value: unknown): string {
  if (typeof value === 'string' && NAME_PATTERN.test(value)) return value;
  throw bad('name', 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters, e.g. api', value);
}

function envOf(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || !(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) throw bad('env', 'an object of variable names to strings, numbers or booleans, e.g. { NODE_ENV: "production" }', { [k]: v });
      out[k] = String(v);
    }
    return Object.freeze(out);
  }
  throw bad('env', 'an object of variable names to values, e.g. { NODE_ENV: "production" }', value);
}

function nodeArgsOf(value: unknown): readonly string[] {
  if (value === undefined || value === '') return Object.freeze([]);
  const list = typeof value === 'string' ? value.trim().split(/\s+/) : Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...(value as string[])] : undefined;
  if (list === undefined || list.some((a) => !a.startsWith('-'))) throw bad('nodeArgs', 'Node.js options for the workers, each starting with "-", e.g. "--import tsx --max-old-space-size=512"', value);
  return Object.freeze(list);
}

function watchOf(value: unknown, app: string): readonly string[] {
  if (value === undefined || value === false || value === '') return Object.freeze([]);
  if (value === true) return Object.freeze([resolve(app, '..')]);
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
  if (list === undefined) throw bad('watch', 'true (the app\'s directory) or paths to watch, comma-separated or an array', value);
  const paths = list.map((p) => resolve(p.trim()));
  for (const p of paths) if (!existsSync(p)) throw bad('watch', 'paths that exist', p);
  return Object.freeze(paths);
}

function hostOfMetrics(value: unknown): string {
  if (typeof value === 'string' && /^[\w.:%-]+$/.test(value)) return value;
  throw bad('metricsHost', 'an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0', value);
}

function logFormatOf(value: unknown): LogFormat {
  if (value === undefined || value === '') return 'text';
  if (typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw bad('logFormat', `one of ${LOG_FORMATS.map((f) => `"${f}"`).join(', ')}`, value);
}

function hostIdOf(value: unknown): string {
  if (typeof value === 'string' && HOST_ID_PATTERN.test(value)) return value;
  throw bad('hostId', 'lower-case letters, digits and inner dashes, at most 63 characters (a DNS label), e.g. web-1', value);
}

function adapterOf(adapter: unknown, redis: unknown): { adapter: AdapterKind; redis: string } {
  const url = redis === undefined || redis === '' ? '' : redisUrlOf(redis);
  const kind = adapter === undefined || adapter === '' ? (url === '' ? 'cluster' : 'redis-streams') : adapter;
  if (typeof kind !== 'string' || !(ADAPTERS as readonly string[]).includes(kind)) throw bad('adapter', `one of ${ADAPTERS.map((a) => `"${a}"`).join(', ')}`, adapter);
  if (kind === 'cluster' && url !== '') throw bad('redis', 'no Redis URL with --adapter cluster (it needs no service); choose --adapter redis or redis-streams to use Redis', redis);
  if (kind !== 'cluster' && url === '') throw bad('redis', `a Redis URL for --adapter ${kind}, e.g. --redis redis://127.0.0.1:6379`, redis);
  return { adapter: kind as AdapterKind, redis: url };
}

function redisUrlOf(value: unknown): string {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if ((url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '') return value;
    } catch {
      // named in the error below
    }
  }
  throw bad('redis', 'a Redis URL, redis://[:password@]host[:port][/db] (rediss:// for TLS)', value);
}

function slotPortsOf(value: unknown, workers: number, port: number): number {
  if (value === undefined || value === '' || value === 0 || value === '0') return 0;
  const base = integer('slotPorts', value, 1, 65535, 'the first of the slot ports, a TCP port from 1 to 65535');
  const last = base + workers - 1;
  if (last > 65535) throw bad('slotPorts', `a first port that leaves room for ${workers} slot ports (at most ${65536 - workers})`, value);
  if (port >= base && port <= last) throw bad('slotPorts', `a range of ${workers} ports (${base}-${last}) that does not hold the public port ${port}`, value);
  return base;
}

/** A worker count as `--workers` and `corral scale` take it: 1..1024, or `'auto'` (one per core). */
export function workersOf(value: unknown): number {
  if (value === 'auto') return availableParallelism();
  return integer('workers', value, 1, 1024, 'a whole number from 1 to 1024, or "auto" (one per core)');
}

/** A query parameter name a client sends unescaped. */
const QUERY_NAME = /^[A-Za-z0-9_.~-]{1,64}$/;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

function stickyOf(value: unknown): { sticky: Strategy; stickyKey: string } {
  if (typeof value === 'string') {
    if (value === 'sid' || value === 'ip' || value === 'cookie' || value === 'none') return { sticky: value, stickyKey: '' };
    const colon = value.indexOf(':');
    const kind = value.slice(0, colon);
    const name = value.slice(colon + 1);
    if (colon > 0 && kind === 'query') {
      if (QUERY_NAME.test(name)) return { sticky: 'query', stickyKey: name };
      throw bad('sticky', 'query:NAME with a parameter name of letters, digits and _.~- (at most 64), e.g. query:room', value);
    }
    if (colon > 0 && kind === 'header') {
      if (HEADER_NAME.test(name)) return { sticky: 'header', stickyKey: name.toLowerCase() };
      throw bad('sticky', 'header:NAME with an HTTP header name (at most 64 characters), e.g. header:x-tenant', value);
    }
  }
  throw bad('sticky', `one of ${STRATEGIES.map((s) => `"${s}"`).join(', ')}`, value);
}

function hostOf(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && /^[\w.:%-]+$/.test(value)) return value;
  throw bad('host', 'an IP address or host name, e.g. 127.0.0.1 or ::', value);
}

function booleanOf(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  throw bad(name, 'true or false', value);
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

function bytesOf(name: string, value: unknown): number {
  if (value === undefined || value === 0 || value === '0') return 0;
  const m = typeof value === 'number' ? [String(value), String(value), ''] : typeof value === 'string' ? /^\s*(\d+)\s*([KMG]?)B?\s*$/i.exec(value) : null;
  const n = m ? Number(m[1]) * UNITS[m[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 1024 * 1024) throw bad(name, 'a size of at least 1M, e.g. 512M or 2G', value);
  return n;
}

/** A size that must be set: bytesOf's 0 ("no limit") is not one. */
function capOf(name: string, value: unknown): number {
  const n = bytesOf(name, value);
  if (n === 0) throw bad(name, 'a size of at least 1M, e.g. 64M', value);
  return n;
}

function integer(name: string, value: unknown, min: number, max: number, accepted: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(name, accepted, value);
  return n;
}

function appArgsOf(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return Object.freeze([...value]);
  throw bad('appArgs', 'an array of strings, the arguments your app sees in process.argv.slice(2)', value);
}

function controlOf(value: unknown, port: number, host: string | undefined, env: NodeJS.ProcessEnv): string {
  if (value === undefined || value === '') return port === 0 ? '' : defaultControlPath(port, host, env);
  if (typeof value === 'string') return resolve(value);
  throw bad('control', 'the path of a Unix socket, e.g. /run/user/1000/corral/app.sock', value);
}

function bad(name: string, accepted: string, got: unknown, what = 'bad option'): CorralError {
  const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  return new CorralError('ERR_CORRAL_BAD_OPTION', `${what} ${flag} (${name}): expected ${accepted}, got ${shown(got)}.`);
}

import type { AddressInfo } from 'node:net';
import type { AdapterKind, Config } from '../options';
import type { RouterSettings, Strategy } from '../routing';

/** The primary -> worker contract carried in the environment at fork. What a worker learns from it (the app sees `PORT` too). */
export interface WorkerEnv extends RouterSettings {
  readonly slot: number;
  /** The public port: the app's `listen()` on it is served through corral. */
  readonly port: number;
  /** What `server.address()` returns in the app. */
  readonly address: AddressInfo;
  readonly runtimeDir: string;
  readonly app: string;
  /** Ready only once the app calls `ready()` (`--wait-ready`). */
  readonly waitReady: boolean;
  /** Milliseconds a connection has to send a whole request head (`--head-timeout`), in the worker too. */
  readonly headTimeout: number;
  /** Written in every session id, before the slot. */
  readonly hostId: string;
  /** What `attach(io)` installs, and the Redis URL for the Redis adapters ('' for `cluster`). */
  readonly adapter: AdapterKind;
  readonly redis: string;
}

const PREFIX = 'CORRAL_';

export function workerEnv(config: Readonly<Config>, slot: number, address: AddressInfo, runtimeDir: string, cookieSecret: string): NodeJS.ProcessEnv {
  return {
    // The app's own variables (a config file's env blocks) first: corral's win over them.
    ...config.env,
    // As PM2 sets it in cluster mode: apps that pick a role by instance read it.
    NODE_APP_INSTANCE: String(slot),
    PORT: String(address.port),
    [`${PREFIX}SLOT`]: String(slot),
    [`${PREFIX}PORT`]: String(address.port),
    [`${PREFIX}ADDRESS`]: JSON.stringify(address),
    [`${PREFIX}RUNTIME_DIR`]: runtimeDir,
    [`${PREFIX}APP`]: config.app,
    [`${PREFIX}WAIT_READY`]: config.waitReady ? '1' : '0',
    [`${PREFIX}HEAD_TIMEOUT`]: String(config.headTimeout),
    [`${PREFIX}HOST_ID`]: config.hostId,
    [`${PREFIX}ADAPTER`]: config.adapter,
    [`${PREFIX}REDIS`]: config.redis,
    [`${PREFIX}STICKY`]: config.sticky,
    [`${PREFIX}STICKY_KEY`]: config.stickyKey,
    [`${PREFIX}TRUST_PROXY`]: config.trustProxy.join(','),
    [`${PREFIX}COOKIE_SECRET`]: cookieSecret,
  };
}

/** The worker side of {@link workerEnv}; undefined when this process is not a corral worker. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv | undefined {
  const slot = env[`${PREFIX}SLOT`];
  const address = env[`${PREFIX}ADDRESS`];
  const runtimeDir = env[`${PREFIX}RUNTIME_DIR`];
  const app = env[`${PREFIX}APP`];
  if (slot === undefined || address === undefined || runtimeDir === undefined || app === undefined) return undefined;
  const parsed = JSON.parse(address) as AddressInfo;
  return {
    slot: Number(slot),
    port: parsed.port,
    address: parsed,
    runtimeDir,
    app,
    waitReady: env[`${PREFIX}WAIT_READY`] === '1',
    headTimeout: Number(env[`${PREFIX}HEAD_TIMEOUT`] ?? 10_000),
    hostId: env[`${PREFIX}HOST_ID`] ?? 'host',
    adapter: (env[`${PREFIX}ADAPTER`] ?? 'cluster') as AdapterKind,
    redis: env[`${PREFIX}REDIS`] ?? '',
    sticky: (env[`${PREFIX}STICKY`] ?? 'sid') as Strategy,
    stickyKey: env[`${PREFIX}STICKY_KEY`] ?? '',
    trustProxy: (env[`${PREFIX}TRUST_PROXY`] ?? '').split(',').filter((e) => e !== ''),
    cookieSecret: env[`${PREFIX}COOKIE_SECRET`] ?? '',
  };
}

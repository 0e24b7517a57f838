import { createAdapter as clusterAdapter } from '@socket.io/cluster-adapter';
import type { Redis } from 'ioredis';
import type { WorkerEnv } from '../protocol/worker-env';
import { recoveringClusterAdapter } from '../recovery/adapter';
import type { RecoveryLink } from '../recovery/link';
import { adapterClient, isUp, redactUrl, type RedisWatch } from './redis-client';

/** What `io.adapter()` takes: a factory of one adapter per namespace. */
export type AdapterFactory = (nsp: unknown) => unknown;

/** The part of a Socket.IO adapter that corral decorates. */
interface Broadcaster {
  broadcast(packet: unknown, opts: BroadcastOpts): unknown;
  broadcastWithAck(packet: unknown, opts: BroadcastOpts, ...rest: unknown[]): unknown;
}

interface BroadcastOpts {
  flags?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * The Socket.IO adapter that `attach(io)` installs, as configured (`--adapter`): the cluster
 * adapter over IPC (the primary relays its messages), or socket.io's own Redis adapters for
 * more than one host. corral only wires them: what crosses workers and hosts is theirs.
 * `recovery`, for a server with `connectionStateRecovery`: on the cluster adapter, its state is
 * kept by the primary (`src/recovery/`); the Redis-streams adapter keeps it in Redis itself.
 */
export function createAdapterFactory(env: WorkerEnv, warn: (message: string) => void, recovery?: () => RecoveryLink): AdapterFactory {
  if (env.adapter === 'cluster') return recovery === undefined ? (clusterAdapter() as AdapterFactory) : recoveringClusterAdapter(recovery());
  if (recovery !== undefined && env.adapter === 'redis') {
    warn('this Socket.IO server sets connectionStateRecovery, but --adapter redis (pub/sub) keeps no sessions: clients that reconnect to another worker or host start afresh. Use --adapter redis-streams (several hosts) or the default cluster adapter (one host).');
  }
  const where = redactUrl(env.redis);
  const watch: RedisWatch = {
    lost: (reason) => warn(`lost Redis at ${where} (${reason}): broadcasts reach this worker's clients only, acks and connected clients are unaffected; reconnecting.`),
    back: () => warn(`Redis at ${where} is back: broadcasts cross workers and hosts again.`),
  };
  const client = adapterClient(env.redis, `corral:${env.hostId}:${env.slot}`, watch);
  if (env.adapter === 'redis') {
    const { createAdapter } = require('@socket.io/redis-adapter') as typeof import('@socket.io/redis-adapter');
    return localWhileDown(createAdapter(client, client.duplicate()) as AdapterFactory, client);
  }
  const { createAdapter } = require('@socket.io/redis-streams-adapter') as typeof import('@socket.io/redis-streams-adapter');
  return localWhileDown(createAdapter(client) as AdapterFactory, client);
}

/**
 * While Redis is unreachable, broadcasts are delivered to this worker's own clients only
 * (the adapter's own `local` flag): the Redis-streams adapter would otherwise hold even local
 * delivery until its XADD fails, and pub/sub could not carry the packet anyway. Once Redis is
 * back, broadcasts cross workers and hosts again by themselves.
 */
function localWhileDown(factory: AdapterFactory, client: Redis): AdapterFactory {
  // socket.io calls the factory with `new`: a plain function (returning the adapter) allows that, an arrow does not.
  return function decorated(nsp: unknown) {
    const adapter = factory(nsp) as Broadcaster;
    for (const method of ['broadcast', 'broadcastWithAck'] as const) {
      const original = adapter[method].bind(adapter) as (packet: unknown, opts: BroadcastOpts, ...rest: unknown[]) => unknown;
      adapter[method] = (packet: unknown, opts: BroadcastOpts, ...rest: unknown[]) =>
        original(packet, isUp(client) || opts.flags?.['local'] === true ? opts : { ...opts, flags: { ...opts.flags, local: true } }, ...rest);
    }
    return adapter;
  };
}

import type { Redis, RedisOptions } from 'ioredis';
import { CorralError } from '../errors';

/**
 * Commands whose promises the Socket.IO Redis adapters start and never await. While Redis is
 * away ioredis rejects them (after `maxRetriesPerRequest` reconnect attempts), and an
 * unhandled rejection would crash the worker: a handler is attached to each promise, which is
 * returned unchanged to whoever does await it.
 */
const FIRE_AND_FORGET = ['publish', 'spublish', 'xadd', 'subscribe', 'ssubscribe', 'psubscribe'] as const;

/**
 * Connection options for every Redis client corral creates. Commands wait in ioredis' offline
 * queue across a short blip, and are failed after a few reconnect attempts instead of piling up
 * for as long as Redis is gone; reconnecting never stops.
 */
function clientOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    enableOfflineQueue: true,
  };
}

/** What a worker hears about its Redis connection, once per change. */
export interface RedisWatch {
  lost(reason: string): void;
  back(): void;
}

/**
 * A Redis client for a Socket.IO adapter: errors never crash the worker, the loss and the
 * return of Redis are told once each, and duplicates (the adapters make their own subscriber
 * and stream readers) get the same guards.
 */
export function adapterClient(url: string, name: string, watch: RedisWatch): Redis {
  // Loaded only when a Redis adapter is chosen: the embedded default needs no Redis code.
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  return guard(new RedisClient(url, clientOptions(name)), watch);
}

function guard(client: Redis, watch: RedisWatch): Redis {
  let down = false;
  const lose = (reason: string): void => {
    if (down) return;
    down = true;
    watch.lost(reason);
  };
  client.on('error', (err: Error) => lose(err.message));
  client.on('close', () => lose('connection closed'));
  client.on('ready', () => {
    if (!down) return;
    down = false;
    watch.back();
  });
  const methods = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of FIRE_AND_FORGET) {
    const original = methods[name]!.bind(client);
    methods[name] = (...args: unknown[]) => {
      const result = original(...args);
      if (result instanceof Promise) result.catch(() => undefined);
      return result;
    };
  }
  const duplicate = client.duplicate.bind(client);
  // The copies report nothing themselves: the client they copy speaks for the connection.
  client.duplicate = (override?: Partial<RedisOptions>) => guard(duplicate(override), { lost: () => undefined, back: () => undefined });
  return client;
}

/** Whether a client can send now (not reconnecting, not waiting in the offline queue). */
export function isUp(client: Redis): boolean {
  return client.status === 'ready';
}

/**
 * Check at start that Redis answers, so a wrong URL fails `corral start` before anything is
 * bound or forked, with a message that names the URL.
 */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<void> {
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  const client = new RedisClient(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // connect() rejects with a bare "Connection is closed": the error event has the cause.
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const why = (cause ?? (err as Error)).message.replace(/\.+$/, '');
    throw new CorralError('ERR_CORRAL_REDIS_UNREACHABLE', `cannot reach Redis at ${redactUrl(url)}: ${why}. Start Redis, correct --redis, or use --adapter cluster (one host, no service needed).`, { cause: err });
  } finally {
    client.disconnect();
  }
}

/** The URL with its password hidden, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

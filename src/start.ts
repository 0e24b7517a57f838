import type { AddressInfo } from 'node:net';
import { resolveConfig, type Config, type CorralOptions } from './options';
import { Primary } from './primary/primary';

/** A running corral cluster, as returned by {@link start}. */
export interface Cluster {
  /** The validated configuration in use. */
  readonly config: Readonly<Config>;
  /** The bound public address (useful with `port: 0`). */
  readonly address: AddressInfo;
  /**
   * Stop accepting, drain every worker within `killTimeout`, kill the rest.
   * Resolves 0 when all drained in time, 1 when some were killed. Safe to call twice.
   */
  stop(): Promise<0 | 1>;
}

/**
 * Start a corral primary in this process: bind the port, fork the workers, route.
 * The calling process becomes the primary; it must not be a cluster worker itself.
 *
 * @throws CorralError `ERR_CORRAL_BAD_OPTION`, `ERR_CORRAL_APP_NOT_FOUND`, `ERR_CORRAL_PORT_IN_USE`, `ERR_CORRAL_LISTEN_FAILED`
 */
export async function start(options: CorralOptions): Promise<Cluster> {
  const config = resolveConfig(options);
  const primary = new Primary(config);
  await primary.start();
  return {
    config,
    address: primary.address!,
    stop: () => primary.stop(),
  };
}

import type { AddressInfo } from 'node:net';
import type { CorralError } from './errors';
import { resolveConfig, type Config, type CorralOptions } from './options';
import { setOutput, terminalSink } from './output';
import { Primary } from './primary/primary';

/** A running corral cluster, as returned by {@link start}. */
export interface Cluster {
  /** The validated configuration in use. */
  readonly config: Readonly<Config>;
  /** The bound public address (useful with `port: 0`). */
  readonly address: AddressInfo;
  /** The control socket in use (`corral status --control PATH`), also when derived from a `port: 0` binding. */
  readonly controlPath: string;
  /**
   * Settles once the cluster has stopped, by {@link Cluster.stop} or by itself: `code` as
   * `stop()` gives it, and `error` (`ERR_CORRAL_WORKER_CRASH_LOOP`) when corral gave up
   * because every slot was halted by a crash loop. Never rejects.
   */
  readonly closed: Promise<{ code: 0 | 1; error: CorralError | undefined }>;
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
 * @throws CorralError `ERR_CORRAL_BAD_OPTION`, `ERR_CORRAL_APP_NOT_FOUND`, `ERR_CORRAL_PORT_IN_USE`, `ERR_CORRAL_LISTEN_FAILED`,
 *   `ERR_CORRAL_REDIS_UNREACHABLE`, `ERR_CORRAL_UNSAFE_RUNTIME_DIR`, `ERR_CORRAL_CONTROL_IN_USE`, `ERR_CORRAL_UNSUPPORTED_NODE`
 */
export async function start(options: CorralOptions): Promise<Cluster> {
  const config = resolveConfig(options);
  if (config.logFormat === 'json') setOutput(terminalSink('json'));
  const primary = new Primary(config);
  const closed = new Promise<{ code: 0 | 1; error: CorralError | undefined }>((resolve) => {
    primary.onStopped = (code, error) => resolve({ code, error });
  });
  await primary.start();
  return {
    config,
    address: primary.address!,
    controlPath: primary.controlPath,
    closed,
    stop: () => primary.stop(),
  };
}

import type { Worker } from 'node:cluster';
import type { RawHandle } from '../internal/raw-handle';
import type { AdapterRelay, ToWorker } from '../protocol/messages';

/**
 * How the primary reaches one worker process: the transport, apart from what the messages
 * mean (Node's IPC channel of a cluster worker in production; an in-memory one in unit tests
 * of the dispatcher and the supervisor's policies).
 */
export interface WorkerChannel {
  readonly pid: number | undefined;
  /** Send a message, with a handle riding along when given; `onError` hears a send that failed. */
  send(message: ToWorker | AdapterRelay, handle?: RawHandle, onError?: (err: Error) => void): void;
  /** Whether messages can still reach the worker (false once the channel closed, even before the exit). */
  connected(): boolean;
  /** Whether the process has exited. */
  exited(): boolean;
  /** How it exited ('' for code 0, else `killed by SIGINT` or `exited with code 1`), undefined while it runs. */
  exitedHow(): string | undefined;
  /** Call `listener` once the process has exited (at once if it has). */
  onExit(listener: () => void): void;
  kill(signal: NodeJS.Signals): void;
}

/** The channel of a `cluster` worker. */
export function clusterChannel(worker: Worker): WorkerChannel {
  return {
    get pid() {
      return worker.process.pid;
    },
    send(message, handle, onError) {
      if (!worker.isConnected()) return;
      if (handle === undefined) worker.send(message);
      else worker.send(message, handle as never, (err: Error | null) => err && onError?.(err));
    },
    connected: () => worker.isConnected(),
    exited: () => worker.process.exitCode !== null || worker.process.signalCode !== null,
    exitedHow() {
      const { exitCode, signalCode } = worker.process;
      if (signalCode !== null) return `killed by ${signalCode}`;
      if (exitCode === null) return undefined;
      return exitCode === 0 ? '' : `exited with code ${exitCode}`;
    },
    onExit(listener) {
      if (worker.process.exitCode !== null || worker.process.signalCode !== null) listener();
      else worker.once('exit', () => listener());
    },
    kill: (signal) => void worker.process.kill(signal),
  };
}

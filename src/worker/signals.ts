import { trace } from '../log';

/**
 * Signals that stop a process and reach every process of a group at once: Ctrl-C (SIGINT) and
 * closing the terminal (SIGHUP) go to the terminal's whole foreground group, `systemd` sends
 * SIGTERM to every process of the unit. The primary gets them too and drains the workers one by
 * one; a worker that obeyed them itself would die with requests in flight.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGHUP', 'SIGTERM'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

type Listener = (...args: unknown[]) => void;
const ADDERS = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;
const REMOVERS = ['off', 'removeListener'] as const;

/**
 * Leaves the stop signals to the primary: the worker ignores them, and the app's own listeners
 * for them (a PM2-style `process.on('SIGINT', shutdown)`) are held rather than installed. Once
 * corral has drained the worker (its server closed, every connection done), {@link handOver}
 * calls them, so the app's cleanup runs when nothing is in flight any more, instead of at the
 * first Ctrl-C.
 */
export class StopSignals {
  readonly #held = new Map<StopSignal, { listener: Listener; once: boolean }[]>();

  install(): void {
    const ignore = (signal: string): void => trace.worker('%s: left to the primary, which drains this worker', signal);
    for (const signal of STOP_SIGNALS) process.on(signal, ignore);
    const held = this.#held;
    const isStop = (event: unknown): event is StopSignal => typeof event === 'string' && (STOP_SIGNALS as readonly string[]).includes(event);
    const target = process as unknown as Record<string, (event: unknown, listener: Listener) => unknown>;
    for (const method of ADDERS) {
      const original = target[method]!;
      target[method] = function heldAdd(this: unknown, event: unknown, listener: Listener): unknown {
        if (!isStop(event)) return original.call(this, event, listener);
        const list = held.get(event) ?? [];
        const entry = { listener, once: method === 'once' || method === 'prependOnceListener' };
        if (method.startsWith('prepend')) list.unshift(entry);
        else list.push(entry);
        held.set(event, list);
        return process;
      };
    }
    for (const method of REMOVERS) {
      const original = target[method]!;
      target[method] = function heldRemove(this: unknown, event: unknown, listener: Listener): unknown {
        if (!isStop(event)) return original.call(this, event, listener);
        const list = held.get(event);
        const at = list?.findIndex((e) => e.listener === listener) ?? -1;
        if (at >= 0) list!.splice(at, 1);
        return process;
      };
    }
  }

  /**
   * The worker is drained: run the app's SIGINT listeners (else its SIGTERM ones), as PM2
   * would have signalled it, and let the app end the process. Returns false when the app has
   * none, and the caller exits. The IPC channel no longer keeps the process alive, so an app
   * that cleans up without calling `process.exit` still ends; the primary's `--kill-timeout`
   * bounds one that never does.
   */
  handOver(): boolean {
    const signal: StopSignal | undefined = this.#held.get('SIGINT')?.length ? 'SIGINT' : this.#held.get('SIGTERM')?.length ? 'SIGTERM' : undefined;
    if (signal === undefined) return false;
    trace.worker('drained: running the app\'s own %s listeners', signal);
    (process.channel as { unref?: () => void } | undefined)?.unref?.();
    const list = this.#held.get(signal)!;
    this.#held.set(signal, list.filter((e) => !e.once));
    for (const { listener } of list) listener(signal);
    return true;
  }
}

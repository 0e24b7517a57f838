import type { RawHandle } from '../internal/raw-handle';
import { log } from '../log';
import { listen, type Listener } from './listener';

/**
 * One listening port per worker slot (`--slot-ports BASE`: slot `i` on `BASE + i`, on the
 * public address). The primary owns these sockets as it owns the public one, and every
 * connection on a slot port goes to that slot without a byte being read, so a front balancer
 * can keep a keep-alive pool per worker and a respawn or reload of the slot refuses nothing.
 */
export class SlotPorts {
  readonly #base: number;
  readonly #host: string | undefined;
  readonly #onConnection: (handle: RawHandle, slot: number) => void;
  readonly #onError: (status: number) => void;
  readonly #listeners: (Listener | undefined)[] = [];
  #closed = false;

  constructor(base: number, host: string | undefined, onConnection: (handle: RawHandle, slot: number) => void, onError: (status: number) => void) {
    this.#base = base;
    this.#host = host;
    this.#onConnection = onConnection;
    this.#onError = onError;
  }

  /** Port of `slot`. */
  portOf(slot: number): number {
    return this.#base + slot;
  }

  /** Bind the ports of slots `0..count-1`; on any failure, close what was bound and reject. */
  async open(count: number): Promise<void> {
    try {
      for (let slot = 0; slot < count; slot++) this.#listeners[slot] = await this.#listen(slot);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** How many slots have ports now. */
  get count(): number {
    return this.#listeners.length;
  }

  /** Follow `corral scale`: bind the ports of new slots, close those of removed ones. */
  resize(count: number): void {
    while (this.#listeners.length > count) this.#listeners.pop()?.server.close();
    for (let slot = this.#listeners.length; slot < count; slot++) {
      this.#listeners[slot] = undefined;
      this.#listen(slot).then(
        (listener) => {
          // A listen that finishes after its slot was scaled away (or after close) is not kept.
          if (!this.#closed && this.#listeners.length > slot && this.#listeners[slot] === undefined) this.#listeners[slot] = listener;
          else listener.server.close();
        },
        (err: Error) => log.error('slot-port.failed', `slot ${slot} gets no slot port: ${err.message}`),
      );
    }
  }

  /** Close every slot port. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const listener of this.#listeners.splice(0)) listener?.server.close();
  }

  #listen(slot: number): Promise<Listener> {
    return listen(this.portOf(slot), this.#host, (handle) => this.#onConnection(handle, slot), this.#onError);
  }
}

import type { AddressInfo } from 'node:net';
import type { RawHandle } from '../internal/raw-handle';

/**
 * What the app's server holds as its listening handle in a corral worker: the primary owns
 * the real socket, so this one only receives the connections the primary hands over.
 * It gives Node's own `listen` code what it needs (as cluster's round-robin worker handle
 * does), so `listening`, `address()` and `close(cb)` behave as on a plain server.
 */
export class StandInHandle {
  /** Set by net's `listen`; takes each handed-off connection. */
  onconnection: ((status: number, handle: RawHandle) => void) | null = null;
  #listening = false;
  readonly #address: AddressInfo;
  readonly #onListen: () => void;
  readonly #onClose: () => void;

  constructor(address: AddressInfo, onListen: () => void, onClose: () => void) {
    this.#address = address;
    this.#onListen = onListen;
    this.#onClose = onClose;
  }

  get listening(): boolean {
    return this.#listening && this.onconnection !== null;
  }

  listen(_backlog?: number): number {
    this.#listening = true;
    this.#onListen();
    return 0;
  }

  getsockname(out: Partial<AddressInfo>): number {
    Object.assign(out, this.#address);
    return 0;
  }

  close(callback?: () => void): void {
    if (this.#listening) {
      this.#listening = false;
      this.#onClose();
    }
    if (callback) process.nextTick(callback);
  }

  /** The primary's channel keeps the worker alive; a stand-in has no event-loop weight of its own. */
  ref(): void {}
  unref(): void {}
}

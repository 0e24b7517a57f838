import { lastRead, peerAddress, type RawHandle } from '../internal/raw-handle';
import { trace } from '../log';

/**
 * Why a request line could not be read. `busy`: the oldest of too many request lines pending
 * in all; `busy-address`: too many pending from this client address (a slowloris holding
 * sockets open).
 */
export type HeadFailure = 'too-long' | 'timeout' | 'closed' | 'busy' | 'busy-address';

export interface HeadReaderOptions {
  /** Most bytes to read while looking for the end of the request line. */
  readonly maxBytes: number;
  /** Milliseconds a connection may take to send its request line. */
  readonly timeoutMs: number;
  /** Most connections waiting for their request line at once; past it the one waiting longest is closed. */
  readonly maxPending: number;
  /** Most of them from one client address... */
  readonly maxPendingPerAddress: number;
  /** ...counted once this many are pending in all (below it, no address is looked up). */
  readonly countAddressesFrom: number;
  /** The request line arrived: `bytes` is everything read so far (to pass on), `line` without CRLF. */
  readonly onLine: (handle: RawHandle, bytes: Buffer, line: string) => void;
  /** No request line: the handle is still open, the callee answers or closes it. */
  readonly onFail: (handle: RawHandle, reason: HeadFailure, bytes: Buffer) => void;
}

interface Reading {
  chunks: Buffer[];
  length: number;
  startedAt: number;
  /** The client address, when it was counted (only while many are pending). */
  address: string | undefined;
}

const LF = 0x0a;
const EMPTY = Buffer.alloc(0);
/** `onread` must stay a function (native code asserts it). */
const ignoreRead = (): void => undefined;

/**
 * Reads just the request line off raw TCP handles, bounded in bytes and time, then stops
 * reading so the kernel keeps every later byte for the worker that gets the handle.
 *
 * One sweep timer serves every connection (no timer per connection); most request lines
 * arrive in the first packet and never wait for it.
 */
export class HeadReader {
  readonly #options: HeadReaderOptions;
  readonly #reading = new Map<RawHandle, Reading>();
  /** Pending request lines per client address, counted only while `countAddressesFrom` are pending in all. */
  readonly #perAddress = new Map<string, number>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: HeadReaderOptions) {
    this.#options = options;
  }

  read(handle: RawHandle): void {
    // Full: the connection silent the longest goes (a slowloris' are the oldest), not the new
    // one, whose request line is most likely already here.
    if (this.#reading.size >= this.#options.maxPending) {
      const oldest = this.#reading.keys().next().value as RawHandle;
      this.#finish(oldest, 'busy');
    }
    const pending = this.#reading.size;
    // getpeername is a system call: asked only once many are pending, which is when it matters.
    let address: string | undefined;
    if (pending >= this.#options.countAddressesFrom) {
      address = peerAddress(handle);
      const count = this.#perAddress.get(address) ?? 0;
      if (count >= this.#options.maxPendingPerAddress) {
        this.#options.onFail(handle, 'busy-address', EMPTY);
        return;
      }
      this.#perAddress.set(address, count + 1);
    }
    this.#reading.set(handle, { chunks: [], length: 0, startedAt: Date.now(), address });
    handle.onread = (buffer) => this.#onRead(handle, buffer);
    const err = handle.readStart();
    if (err !== 0) this.#finish(handle, 'closed');
    else this.#armSweep();
  }

  /** Stop reading everything; each pending connection fails as `closed`. Idempotent. */
  close(): void {
    for (const handle of [...this.#reading.keys()]) this.#finish(handle, 'closed');
    this.#disarmSweep();
  }

  #onRead(handle: RawHandle, buffer: ArrayBuffer | undefined): void {
    const state = this.#reading.get(handle);
    if (state === undefined) return;
    const data = lastRead(buffer);
    if (typeof data === 'number') {
      if (data < 0) this.#finish(handle, 'closed');
      return;
    }
    const from = state.length;
    state.chunks.push(data);
    state.length += data.length;
    const all = state.chunks.length === 1 ? data : Buffer.concat(state.chunks, state.length);
    if (state.chunks.length > 1) state.chunks = [all];
    const end = lineEnd(all, from);
    // However the bytes were split: a line that ends past the limit is as long as one that does not end.
    if (end >= this.#options.maxBytes) {
      this.#finish(handle, 'too-long');
    } else if (end >= 0) {
      this.#stop(handle);
      const lineStart = skipEmptyLines(all);
      const lineStop = end > lineStart && all[end - 1] === 0x0d ? end - 1 : end;
      this.#options.onLine(handle, all, all.toString('latin1', lineStart, lineStop));
    } else if (state.length >= this.#options.maxBytes) {
      this.#finish(handle, 'too-long');
    }
  }

  #finish(handle: RawHandle, reason: HeadFailure): void {
    const state = this.#reading.get(handle);
    if (state === undefined) return;
    this.#stop(handle);
    trace.router('head read failed: %s after %d bytes', reason, state.length);
    this.#options.onFail(handle, reason, Buffer.concat(state.chunks, state.length));
  }

  #stop(handle: RawHandle): void {
    const address = this.#reading.get(handle)?.address;
    if (address !== undefined) {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    }
    this.#reading.delete(handle);
    handle.readStop();
    handle.onread = ignoreRead;
  }

  #armSweep(): void {
    if (this.#sweep !== undefined) return;
    const every = Math.max(5, Math.min(1000, Math.floor(this.#options.timeoutMs / 4)));
    // The sweep disarms itself once nothing is pending: arming and clearing a timer per
    // connection would cost the primary more than reading its request line.
    this.#sweep = setInterval(() => {
      if (this.#reading.size === 0) {
        this.#disarmSweep();
        return;
      }
      const expired = Date.now() - this.#options.timeoutMs;
      for (const [handle, state] of this.#reading) {
        if (state.startedAt <= expired) this.#finish(handle, 'timeout');
      }
    }, every);
    this.#sweep.unref();
  }

  #disarmSweep(): void {
    if (this.#sweep === undefined) return;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

/** Index of the LF that ends the request line, looking from `from` on, -1 if not yet there. */
function lineEnd(bytes: Buffer, from: number): number {
  // RFC 9112 2.2: ignore empty lines received before the request line.
  const start = Math.max(from, skipEmptyLines(bytes));
  return bytes.indexOf(LF, start);
}

function skipEmptyLines(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x0d || bytes[i] === LF)) i++;
  return i;
}

import { lastRead, peerAddress, type RawHandle } from '../internal/raw-handle';
import { trace } from '../log';
import { parseProxyHeader, startsWithProxySignature, type ProxySource } from '../protocol/proxy-header';
import type { Reads } from '../routing';

/**
 * Why a connection's head could not be read. `too-long`: no request line within the byte
 * limit; `head-too-long`: no end of head within it; `busy`: the oldest of too many heads
 * pending in all; `busy-address`: too many pending from this client address (a slowloris
 * holding sockets open); `proxy-invalid`: no valid PROXY header where one was expected;
 * `proxy-untrusted`: a PROXY header from a peer not allowed to send one.
 */
export type HeadFailure = 'too-long' | 'head-too-long' | 'timeout' | 'closed' | 'busy' | 'busy-address' | 'proxy-invalid' | 'proxy-untrusted';

/**
 * Whether a PROXY protocol header comes first: `expect` (it must: a connection without a valid
 * one is closed), `forbid` (this peer may not send one: a connection that starts with one is
 * closed), `off`.
 */
export type ProxyMode = 'expect' | 'forbid' | 'off';

/** What to read after the PROXY header: `client` means ask {@link HeadReaderOptions.wantAfterProxy}. */
export type Want = Reads | 'client';

/** What was read of a connection. */
export interface HeadRead {
  /** Every byte read after the PROXY header, to pass on with the handle. */
  readonly bytes: Buffer;
  /** The request line without CRLF (when it was read). */
  readonly line: string | undefined;
  /** The head as text, request line to blank line (when the whole head was read). */
  readonly head: string | undefined;
  /** The client named by the PROXY header (undefined without one, or for LOCAL/UNKNOWN). */
  readonly client: ProxySource | undefined;
  /** When the connection was accepted (performance.now()). */
  readonly acceptedAt: number;
}

export interface HeadReaderOptions {
  /** Most bytes of the request line (or the whole head) to read, and of a PROXY v2 header. */
  readonly maxBytes: number;
  /** Milliseconds a connection may take to send what is read. */
  readonly timeoutMs: number;
  /** Most connections being read at once; past it the one waiting longest is closed. */
  readonly maxPending: number;
  /** Most of them from one client address... */
  readonly maxPendingPerAddress: number;
  /** ...counted once this many are pending in all (below it, no address is looked up). */
  readonly countAddressesFrom: number;
  /** What to read once a PROXY header named the client (`want` was `client`). */
  readonly wantAfterProxy: (handle: RawHandle, client: ProxySource | undefined) => Reads;
  /** Read as asked: the handle is stopped, the callee hands it off. */
  readonly onHead: (handle: RawHandle, read: HeadRead) => void;
  /** Could not be read: the handle is still open, the callee answers or closes it. */
  readonly onFail: (handle: RawHandle, reason: HeadFailure, bytes: Buffer, detail?: string) => void;
}

const PROXY = 0;
const FORBID = 1;
const HTTP = 2;

interface Reading {
  chunks: Buffer[];
  length: number;
  startedAt: number;
  /** performance.now() at accept, for the handoff latency. */
  acceptedAt: number;
  /** The client address, when it was counted (only while many are pending). */
  address: string | undefined;
  phase: typeof PROXY | typeof FORBID | typeof HTTP;
  want: Want;
  /** Where the HTTP bytes start (past a PROXY header). */
  offset: number;
  client: ProxySource | undefined;
  /** The first byte of the request line and the LF that ends it, once found (else -1). */
  lineStart: number;
  lineEnd: number;
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** `onread` must stay a function (native code asserts it). */
const ignoreRead = (): void => undefined;

/**
 * Reads just what routing needs off raw TCP handles (a PROXY header, the request line, the
 * whole head), bounded in bytes and time, then stops reading so the kernel keeps every later
 * byte for the worker that gets the handle.
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

  read(handle: RawHandle, proxy: ProxyMode, want: Want): void {
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
    const phase = proxy === 'expect' ? PROXY : proxy === 'forbid' ? FORBID : HTTP;
    this.#reading.set(handle, { chunks: [], length: 0, startedAt: Date.now(), acceptedAt: performance.now(), address, phase, want, offset: 0, client: undefined, lineStart: -1, lineEnd: -1 });
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
    if (state.phase === PROXY) {
      const parsed = parseProxyHeader(all, this.#options.maxBytes);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'invalid') {
        this.#finish(handle, 'proxy-invalid', parsed.reason);
        return;
      }
      state.offset = parsed.length;
      state.client = parsed.source;
      state.phase = HTTP;
      if (state.want === 'client') state.want = this.#options.wantAfterProxy(handle, parsed.source);
    } else if (state.phase === FORBID) {
      const signed = startsWithProxySignature(all);
      if (signed === undefined) return;
      if (signed) {
        this.#finish(handle, 'proxy-untrusted');
        return;
      }
      state.phase = HTTP;
    }
    this.#readHttp(handle, state, all, from);
  }

  /** Look for what `state.want` asks in the HTTP bytes (from `state.offset`), `from` being where the new bytes start. */
  #readHttp(handle: RawHandle, state: Reading, all: Buffer, from: number): void {
    const want = state.want;
    if (want === 'nothing' || want === 'client') {
      this.#complete(handle, state, all, undefined, undefined);
      return;
    }
    const max = this.#options.maxBytes;
    const base = state.offset;
    if (state.lineEnd < 0) {
      // RFC 9112 2.2: ignore empty lines received before the request line.
      const start = skipEmptyLines(all, base);
      const end = all.indexOf(LF, Math.max(from, start));
      // However the bytes were split: a line that ends past the limit is as long as one that does not end.
      if (end < 0 ? all.length - base >= max : end - base >= max) {
        this.#finish(handle, 'too-long');
        return;
      }
      if (end < 0) return;
      state.lineStart = start;
      state.lineEnd = end;
      if (want === 'line') {
        this.#complete(handle, state, all, this.#line(all, state), undefined);
        return;
      }
    }
    const headEnd = endOfHead(all, Math.max(state.lineEnd, from - 2));
    if (headEnd < 0 ? all.length - base >= max : headEnd - base > max) {
      this.#finish(handle, 'head-too-long');
      return;
    }
    if (headEnd < 0) return;
    this.#complete(handle, state, all, this.#line(all, state), all.toString('latin1', state.lineStart, headEnd));
  }

  #line(all: Buffer, state: Reading): string {
    const end = state.lineEnd;
    const stop = end > state.lineStart && all[end - 1] === CR ? end - 1 : end;
    return all.toString('latin1', state.lineStart, stop);
  }

  #complete(handle: RawHandle, state: Reading, all: Buffer, line: string | undefined, head: string | undefined): void {
    this.#stop(handle);
    const bytes = state.offset === 0 ? all : all.subarray(state.offset);
    this.#options.onHead(handle, { bytes, line, head, client: state.client, acceptedAt: state.acceptedAt });
  }

  #finish(handle: RawHandle, reason: HeadFailure, detail?: string): void {
    const state = this.#reading.get(handle);
    if (state === undefined) return;
    this.#stop(handle);
    trace.router('head read failed: %s after %d bytes', reason, state.length);
    this.#options.onFail(handle, reason, Buffer.concat(state.chunks, state.length).subarray(state.offset), detail);
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
        if (state.startedAt > expired) continue;
        // A PROXY header cut short is no HTTP request to answer 408 to.
        if (state.phase === PROXY) this.#finish(handle, 'proxy-invalid', 'incomplete within --head-timeout');
        else this.#finish(handle, 'timeout');
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

/** The first index at or after `from` that is not CR or LF. */
function skipEmptyLines(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length && (bytes[i] === CR || bytes[i] === LF)) i++;
  return i;
}

/**
 * The index just past the blank line that ends a head (`LF LF` or `LF CR LF`), looking at
 * line feeds from `from` on (the request line's own LF or later), -1 if not yet there.
 */
function endOfHead(bytes: Buffer, from: number): number {
  for (let i = bytes.indexOf(LF, from); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (bytes[i + 1] === LF) return i + 2;
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return i + 3;
  }
  return -1;
}

/**
 * Node's libuv TCP handle (`tcp_wrap.TCP`), used without a `net.Socket` around it where a
 * connection only passes through: creating a `net.Socket` per connection costs the primary
 * about half again as much CPU as Node's own cluster round-robin spends.
 *
 * These are internals, the same ones Node's `cluster` uses; the test suite pins them.
 */
export interface RawHandle {
  /** Must always be a function: native code asserts it. */
  onread: (buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  close(callback?: () => void): void;
  getpeername(out: { address?: string; family?: string; port?: number }): number;
  /** File descriptor, -1 once closed. */
  readonly fd: number;
}

/** A listening handle: net calls `onconnection(status, clientHandle)` for each accept. */
export interface RawServerHandle {
  onconnection: ((status: number, handle: RawHandle | undefined) => void) | null;
}

interface StreamWrapBinding {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

/** Where libuv's read callback leaves how many bytes it read, and where in the buffer. */
interface ReadState {
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

let readState: ReadState | undefined;

/**
 * Node's `stream_wrap` binding, loaded on first use: only the strategies that read a request
 * head need it (`process.binding` is deprecated, DEP0111, and refused under `--permission`, so
 * `--sticky ip|none` never touch it). {@link checkReadState} asks for it at start.
 */
function streamState(): ReadState {
  if (readState !== undefined) return readState;
  // `process.binding` is typed as returning any; pin the fields we read.
  const binding = (process as unknown as { binding(name: string): StreamWrapBinding }).binding('stream_wrap');
  readState = { state: binding.streamBaseState, kReadBytesOrError: binding.kReadBytesOrError, kArrayBufferOffset: binding.kArrayBufferOffset };
  return readState;
}

/** What is missing for reading raw handles on this Node, or undefined when all is there. */
export function checkReadState(): string | undefined {
  try {
    const { state, kReadBytesOrError, kArrayBufferOffset } = streamState();
    if (!(state instanceof Int32Array) || !Number.isInteger(kReadBytesOrError) || !Number.isInteger(kArrayBufferOffset)) {
      return "process.binding('stream_wrap') has no streamBaseState/kReadBytesOrError/kArrayBufferOffset";
    }
    return undefined;
  } catch (err) {
    readState = undefined;
    return `process.binding('stream_wrap') is not available (${(err as Error).message})`;
  }
}

/**
 * Inside a handle's `onread`: the bytes just read (a view, no copy), or the negative libuv
 * status (`UV_EOF` or an error) when the read ended the stream.
 */
export function lastRead(buffer: ArrayBuffer | undefined): Buffer | number {
  const { state, kReadBytesOrError, kArrayBufferOffset } = readState ?? streamState();
  const n = state[kReadBytesOrError]!;
  if (n <= 0 || buffer === undefined) return n;
  return Buffer.from(buffer, state[kArrayBufferOffset]!, n);
}

/** Peer address of a TCP handle, IPv4-mapped IPv6 unwrapped; '' when the peer is gone. */
export function peerAddress(handle: RawHandle): string {
  const out: { address?: string } = {};
  if (handle.getpeername(out) !== 0 || out.address === undefined) return '';
  const a = out.address;
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Whether a handle object is still open. */
export function isOpen(handle: RawHandle): boolean {
  return handle.fd >= 0;
}

import type { RawHandle } from './raw-handle';

/**
 * Node's libuv pipe handle (`pipe_wrap.Pipe`) opened in IPC mode: a Unix socket that carries
 * handles (SCM_RIGHTS) beside its bytes, with no `child_process` channel around it. Node's
 * own channel wraps every handle in JSON, waits for an acknowledgement before the next one
 * and fans each message out through `message` listeners; corral's handoff lane
 * (src/protocol/lane.ts) needs none of that, and costs the primary about half as much CPU per
 * connection.
 *
 * These are internals, like the TCP handles of ./raw-handle.ts; the test suite pins them.
 */
export interface IpcPipe {
  /** Must always be a function: native code asserts it. */
  onread: (buffer: ArrayBuffer | undefined) => void;
  /** A handle that came with the bytes of this read, set by native code before `onread`. */
  pendingHandle?: RawHandle | null;
  readStart(): number;
  readStop(): number;
  /** Let the process exit while the pipe is open (Node's channel keeps the worker alive, not this). */
  unref(): void;
  close(callback?: () => void): void;
  writeBuffer(req: WriteRequest, data: Uint8Array, handle?: RawHandle): number;
  /** File descriptor, -1 once closed. */
  readonly fd: number;
}

/** libuv's write request; `oncomplete(status)` runs when a write that did not finish at once does. */
export interface WriteRequest {
  oncomplete: (status: number) => void;
  /** What the request keeps alive until libuv is done: the pipe and the bytes. */
  handle?: unknown;
  buffer?: Uint8Array;
}

interface PipeServer {
  onconnection: ((status: number, client: { readonly fd: number; close(): void } | undefined) => void) | null;
  bind(path: string): number;
  listen(backlog: number): number;
  unref(): void;
  close(callback?: () => void): void;
}

interface ConnectRequest {
  oncomplete: (status: number) => void;
}

interface PipeBinding {
  Pipe: new (type: number) => IpcPipe & PipeServer & { open(fd: number): number; connect(req: ConnectRequest, path: string): number };
  PipeConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number; SERVER: number; IPC: number };
}

interface StreamBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface Bindings {
  pipe: PipeBinding;
  stream: StreamBinding;
}

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings !== undefined) return bindings;
  // `process.binding` is typed as returning any; pin the fields used.
  const binding = (process as unknown as { binding(name: string): unknown }).binding;
  bindings = { pipe: binding('pipe_wrap') as PipeBinding, stream: binding('stream_wrap') as StreamBinding };
  return bindings;
}

/**
 * What is missing for IPC pipes on this Node, or undefined when all is there. Without them
 * (a future Node, `--permission`) handoffs ride Node's own channel, as before.
 */
export function checkIpcPipes(): string | undefined {
  try {
    const { pipe, stream } = load();
    const ok =
      typeof pipe.Pipe === 'function' &&
      typeof pipe.PipeConnectWrap === 'function' &&
      Number.isInteger(pipe.constants?.IPC) &&
      typeof stream.WriteWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      Number.isInteger(stream.kLastWriteWasAsync) &&
      typeof (pipe.Pipe.prototype as Partial<IpcPipe>).writeBuffer === 'function';
    return ok ? undefined : "process.binding('pipe_wrap') or ('stream_wrap') lacks Pipe, PipeConnectWrap, WriteWrap or writeBuffer";
  } catch (err) {
    bindings = undefined;
    return `process.binding('pipe_wrap') is not available (${(err as Error).message})`;
  }
}

/**
 * Serve one IPC pipe connection on `path` (the worker's end). Node instantiates every accepted
 * pipe as a plain socket, which cannot carry handles; the accepted descriptor is opened again
 * as an IPC pipe, and the plain handle is kept, never read nor closed (closing it would close
 * the descriptor). The listener closes after its first connection.
 */
export function listenIpcPipe(path: string, onPipe: (pipe: IpcPipe) => void): Promise<{ close(): void }> {
  const { pipe: binding } = load();
  const server = new binding.Pipe(binding.constants.SERVER);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    server.close();
  };
  return new Promise((resolve, reject) => {
    const err = server.bind(path) || server.listen(1);
    if (err !== 0) {
      close();
      reject(new Error(`cannot listen on ${path} (libuv status ${err})`));
      return;
    }
    server.unref();
    server.onconnection = (status, client) => {
      if (status < 0 || client === undefined) return;
      close();
      const pipe = new binding.Pipe(binding.constants.IPC);
      if (pipe.open(client.fd) !== 0) {
        client.close();
        return;
      }
      kept.add(client);
      onPipe(pipe);
    };
    resolve({ close });
  });
}

/** The accepted plain handles whose descriptors an IPC pipe now owns (one per worker life). */
const kept = new Set<unknown>();

/** Connect an IPC pipe to `path` (the primary's end); `onDone` hears the pipe, or the libuv status of the failure. */
export function connectIpcPipe(path: string, onDone: (pipe: IpcPipe | undefined, status: number) => void): void {
  const { pipe: binding } = load();
  const pipe = new binding.Pipe(binding.constants.IPC);
  const req = new binding.PipeConnectWrap();
  req.oncomplete = (status) => {
    if (status < 0) {
      pipe.close();
      onDone(undefined, status);
    } else onDone(pipe, 0);
  };
  const err = pipe.connect(req, path);
  if (err !== 0) {
    pipe.close();
    onDone(undefined, err);
  }
}

/**
 * Write `data` (with `handle` riding along); `onError` hears a write that failed, at once or
 * later. The request keeps the buffer and the handle alive until libuv is done with them.
 */
export function writeIpc(pipe: IpcPipe, data: Uint8Array, handle: RawHandle | undefined, onError: (status: number) => void): void {
  const { stream } = load();
  const req = new stream.WriteWrap();
  req.oncomplete = (status) => {
    if (status < 0) onError(status);
  };
  req.handle = pipe;
  req.buffer = data;
  const err = handle === undefined ? pipe.writeBuffer(req, data) : pipe.writeBuffer(req, data, handle);
  if (err !== 0) onError(err);
}

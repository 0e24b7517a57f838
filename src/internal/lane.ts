import { LaneDecoder, type LaneFrame } from '../protocol/lane';
import { trace } from '../log';
import { writeIpc, type IpcPipe } from './ipc-pipe';
import { lastRead, type RawHandle } from './raw-handle';

/**
 * One end of the handoff lane: frames (src/protocol/lane.ts) over an IPC pipe, a connection's
 * handle riding with each handoff frame. The kernel delivers a handle with the first byte of
 * the write that sent it, and one read never spans two writes that carry handles, so handles
 * queue in arrival order and each handoff frame takes the oldest.
 *
 * A lane that breaks (the peer died, a malformed frame) closes; its owner falls back to
 * Node's channel. What was sent on it unanswered is re-routed by the worker's exit, or, if the
 * worker lives on, closed (src/supervisor/supervisor.ts): its answers are lost.
 */
export class Lane {
  readonly #pipe: IpcPipe;
  readonly #decoder = new LaneDecoder();
  /** Handles received whose frame has not been read yet. */
  readonly #handles: RawHandle[] = [];
  readonly #onFrame: (frame: LaneFrame, handle: RawHandle | undefined) => void;
  readonly #onClose: () => void;
  #open = true;

  constructor(pipe: IpcPipe, onFrame: (frame: LaneFrame, handle: RawHandle | undefined) => void, onClose: () => void) {
    this.#pipe = pipe;
    this.#onFrame = onFrame;
    this.#onClose = onClose;
    pipe.onread = (buffer) => this.#onRead(buffer);
    pipe.unref();
    if (pipe.readStart() !== 0) this.close();
  }

  get open(): boolean {
    return this.#open;
  }

  /** Write one encoded frame; `onError` hears a write that failed (then the lane is closed). */
  send(frame: Buffer, handle: RawHandle | undefined, onError: () => void): void {
    if (!this.#open) {
      onError();
      return;
    }
    writeIpc(this.#pipe, frame, handle, (status) => {
      trace.router('lane write failed (libuv status %d)', status);
      this.close();
      onError();
    });
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#pipe.readStop();
    this.#pipe.close();
    for (const handle of this.#handles.splice(0)) handle.close();
    this.#onClose();
  }

  #onRead(buffer: ArrayBuffer | undefined): void {
    const pending = this.#pipe.pendingHandle;
    if (pending !== undefined && pending !== null) {
      this.#pipe.pendingHandle = null;
      if (this.#open) this.#handles.push(pending);
      else pending.close();
    }
    const read = lastRead(buffer);
    if (typeof read === 'number') {
      if (read < 0) this.close();
      return;
    }
    let frames: LaneFrame[];
    try {
      frames = this.#decoder.push(read);
    } catch (err) {
      trace.router('lane closed: %s', (err as Error).message);
      this.close();
      return;
    }
    for (const frame of frames) {
      if (!this.#open) return;
      if (frame.kind !== 'handoff') {
        this.#onFrame(frame, undefined);
        continue;
      }
      const handle = this.#handles.shift();
      if (handle === undefined) {
        trace.router('lane closed: a handoff frame came without its handle');
        this.close();
        return;
      }
      this.#onFrame(frame, handle);
    }
  }
}

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RawHandle } from '../internal/raw-handle';
import { trace } from '../log';
import { TAG, type ToPrimary } from '../protocol/messages';

type Send = (message: ToPrimary, handle?: RawHandle) => void;

interface PendingRelay {
  socket: Socket;
  resume: () => void;
}

/**
 * A WebSocket upgrade for another worker's session is passed on whole: the connection's
 * handle goes back to the primary with the request head re-serialized plus every byte read
 * after it, and the primary hands it to the owner as a fresh connection. Until the primary
 * answers, this worker keeps its copy (so a refusal can still be served here).
 */
export class Relay {
  readonly #send: Send;
  readonly #pending = new Map<number, PendingRelay>();
  #seq = 0;

  constructor(send: Send) {
    this.#send = send;
  }

  /**
   * Pass the upgrade on. `local` serves it here instead, if the primary refuses it.
   */
  relay(slot: number, req: IncomingMessage, socket: Socket, head: Buffer, local: (head: Buffer) => void): void {
    const handle = (socket as unknown as { _handle: RawHandle | null })._handle;
    if (handle === null) {
      socket.destroy();
      return;
    }
    // Stop reading for good: the handle's reads, and the stream's own attempts to restart them.
    handle.readStop();
    const streamRead = socket._read;
    socket._read = () => undefined;
    const buffered: Buffer[] = [head];
    for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) buffered.push(chunk);
    const rest = Buffer.concat(buffered);
    const seq = ++this.#seq;
    this.#pending.set(seq, {
      socket,
      resume: () => {
        socket._read = streamRead;
        socket.resume();
        local(rest);
      },
    });
    trace.forward('upgrade %s -> relayed to slot %d', req.url, slot);
    const bytes = Buffer.concat([serializeHead(req), rest]).toString('base64');
    this.#send({ tag: TAG, type: 'relay', seq, slot, bytes }, handle);
  }

  /** The primary answered a relay. */
  settle(seq: number, accepted: boolean): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return;
    this.#pending.delete(seq);
    // Accepted: the primary holds its own copy of the connection; closing ours leaves it open.
    if (accepted) pending.socket.destroy();
    else pending.resume();
  }
}

/** The request head as it came (method, target, raw header names and values). */
function serializeHead(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

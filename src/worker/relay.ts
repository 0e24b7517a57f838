import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RawHandle } from '../internal/raw-handle';
import { handleOf, holdReads, shownRemote } from '../internal/net';
import { trace } from '../log';
import { HANDOFF_DEADLINE_MS, TAG, type ToPrimary } from '../protocol/messages';

/**
 * Most bytes after the request head that a relayed upgrade may carry. A WebSocket client waits
 * for the 101 before it sends frames, so a real one carries next to nothing; anything more is
 * refused, so a flood of padded upgrades cannot make the primary copy and hold megabytes.
 */
export const MAX_RELAY_TRAILING_BYTES = 16 * 1024;

type Send = (message: ToPrimary, handle?: RawHandle) => void;

interface PendingRelay {
  socket: Socket;
  resume: () => void;
  timer: NodeJS.Timeout;
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
    const handle = handleOf(socket);
    const release = holdReads(socket);
    if (handle === undefined || release === undefined) {
      socket.destroy();
      return;
    }
    const buffered: Buffer[] = [head];
    for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) buffered.push(chunk);
    const rest = Buffer.concat(buffered);
    if (rest.length > MAX_RELAY_TRAILING_BYTES) {
      trace.forward('upgrade %s carries %d bytes after its head: refused', req.url, rest.length);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    const seq = ++this.#seq;
    const deadline = Date.now() + HANDOFF_DEADLINE_MS;
    // No answer by the deadline (plus time for it to travel): the primary refuses it when it reads
    // it late, so serve it here. Decided after this turn's I/O (setImmediate), so an acceptance
    // already waiting in the channel is read first.
    const timer = setTimeout(() => setImmediate(() => this.settle(seq, false)), HANDOFF_DEADLINE_MS + 1000);
    timer.unref();
    this.#pending.set(seq, {
      socket,
      timer,
      resume: () => {
        release();
        local(rest);
      },
    });
    trace.forward('upgrade %s -> relayed to slot %d', req.url, slot);
    const bytes = Buffer.concat([serializeHead(req), rest]).toString('base64');
    const client = shownRemote(socket);
    this.#send(client === undefined ? { tag: TAG, type: 'relay', seq, slot, bytes, deadline } : { tag: TAG, type: 'relay', seq, slot, bytes, deadline, client }, handle);
  }

  /** The primary answered a relay (or its deadline passed: refused). */
  settle(seq: number, accepted: boolean): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return;
    this.#pending.delete(seq);
    clearTimeout(pending.timer);
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

import type { ClientAddress } from './messages';

/**
 * The handoff lane's frames: the `handoff` and `handoff-reply` of ./messages.ts in binary, for
 * the private IPC pipe between the primary and each worker (src/internal/lane.ts). Same
 * meaning, same answers by `seq`; what changes is the cost: no JSON, no base64 of the bytes
 * read, no acknowledgement per handle.
 *
 * A frame is a u32 (LE) length, then that many bytes: a kind byte and its fields.
 *   HANDOFF  kind=1, flags u8 (1 relayed, 2 client), seq f64, deadline f64 (wall-clock ms),
 *            [client: family u8 (4|6), port u16, address length u8, address latin1], bytes read.
 *            The connection's handle rides with the frame.
 *   REPLY    kind=2, accepted u8, seq f64.
 * `seq` is a double, as in the JSON messages: a primary that hands over billions of
 * connections never wraps it (a u32 would wrap after ten days at 5,000 a second).
 */
const HANDOFF = 1;
const REPLY = 2;

export interface LaneHandoff {
  kind: 'handoff';
  seq: number;
  relayed: boolean;
  deadline: number;
  client: ClientAddress | undefined;
  bytes: Buffer;
}

export interface LaneReply {
  kind: 'reply';
  seq: number;
  accepted: boolean;
}

export type LaneFrame = LaneHandoff | LaneReply;

const EMPTY = Buffer.alloc(0);
const LENGTH = 4;
const HANDOFF_FIXED = 1 + 1 + 8 + 8;
const REPLY_SIZE = 1 + 1 + 8;
/** Longer than any head the primary reads (--max-head-bytes tops out far below): a corrupt length, not a frame. */
export const MAX_FRAME = 16 * 1024 * 1024;

export function encodeHandoff(seq: number, relayed: boolean, deadline: number, client: ClientAddress | undefined, bytes: Buffer): Buffer {
  const address = client === undefined ? 0 : Buffer.byteLength(client.address, 'latin1');
  const size = HANDOFF_FIXED + (client === undefined ? 0 : 4 + address) + bytes.length;
  const out = Buffer.allocUnsafe(LENGTH + size);
  out.writeUInt32LE(size, 0);
  out[4] = HANDOFF;
  out[5] = (relayed ? 1 : 0) | (client === undefined ? 0 : 2);
  out.writeDoubleLE(seq, 6);
  out.writeDoubleLE(deadline, 14);
  let at = LENGTH + HANDOFF_FIXED;
  if (client !== undefined) {
    out[at] = client.family === 'IPv6' ? 6 : 4;
    out.writeUInt16LE(client.port, at + 1);
    out[at + 3] = address;
    out.write(client.address, at + 4, 'latin1');
    at += 4 + address;
  }
  bytes.copy(out, at);
  return out;
}

export function encodeReply(seq: number, accepted: boolean): Buffer {
  const out = Buffer.allocUnsafe(LENGTH + REPLY_SIZE);
  out.writeUInt32LE(REPLY_SIZE, 0);
  out[4] = REPLY;
  out[5] = accepted ? 1 : 0;
  out.writeDoubleLE(seq, 6);
  return out;
}

/**
 * Cuts a byte stream into frames. `push` takes each chunk as read and returns the frames it
 * completed (bytes of a handoff are copied out: the chunk's memory is reused by the next read).
 * A malformed frame throws: the lane is closed, and handoffs fall back to Node's channel.
 */
export class LaneDecoder {
  #pending: Buffer | undefined;

  push(chunk: Buffer): LaneFrame[] {
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    const frames: LaneFrame[] = [];
    let at = 0;
    while (data.length - at >= LENGTH) {
      const size = data.readUInt32LE(at);
      if (size < 1 || size > MAX_FRAME) throw new Error(`lane frame of ${size} bytes`);
      if (data.length - at - LENGTH < size) break;
      frames.push(decodeFrame(data.subarray(at + LENGTH, at + LENGTH + size)));
      at += LENGTH + size;
    }
    if (at < data.length) {
      // Keep the rest: a copy, since `chunk` is only valid during this call.
      data = data.subarray(at);
      this.#pending = Buffer.from(data);
    }
    return frames;
  }
}

function decodeFrame(body: Buffer): LaneFrame {
  const kind = body[0];
  if (kind === REPLY) {
    if (body.length !== REPLY_SIZE) throw new Error(`lane reply of ${body.length} bytes`);
    return { kind: 'reply', accepted: body[1] === 1, seq: body.readDoubleLE(2) };
  }
  if (kind !== HANDOFF || body.length < HANDOFF_FIXED) throw new Error(`lane frame of kind ${String(kind)}, ${body.length} bytes`);
  const flags = body[1]!;
  const seq = body.readDoubleLE(2);
  const deadline = body.readDoubleLE(10);
  let at = HANDOFF_FIXED;
  let client: ClientAddress | undefined;
  if ((flags & 2) !== 0) {
    if (body.length < at + 4) throw new Error('lane handoff cut inside its client address');
    const family = body[at] === 6 ? 'IPv6' : 'IPv4';
    const port = body.readUInt16LE(at + 1);
    const length = body[at + 3]!;
    if (body.length < at + 4 + length) throw new Error('lane handoff cut inside its client address');
    client = { family, port, address: body.toString('latin1', at + 4, at + 4 + length) };
    at += 4 + length;
  }
  return { kind: 'handoff', seq, relayed: (flags & 1) !== 0, deadline, client, bytes: at === body.length ? EMPTY : Buffer.from(body.subarray(at)) };
}

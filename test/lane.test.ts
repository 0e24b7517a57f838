/**
 * The handoff lane: its frames (encode, decode from any cut of the stream) and the lane itself
 * over a real IPC pipe with real TCP handles, in one process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { checkIpcPipes, connectIpcPipe, listenIpcPipe, type IpcPipe } from '../src/internal/ipc-pipe';
import { Lane } from '../src/internal/lane';
import { peerAddress, type RawHandle } from '../src/internal/raw-handle';
import { serverHandleOf } from '../src/internal/net';
import { encodeHandoff, encodeReply, LaneDecoder, MAX_FRAME, type LaneFrame } from '../src/protocol/lane';
import type { ClientAddress } from '../src/protocol/messages';
import { waitFor } from './helpers/corral';

/** A deterministic pseudo-random sequence (xorshift32), so a failure repeats. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

describe('lane frames', () => {
  test('500 random handoffs and replies come back equal, whatever the stream is cut into', () => {
    const random = rng(7);
    const sent: LaneFrame[] = [];
    const wire: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      if (random() < 0.3) {
        // Past 2^32 too: a long-lived primary's seq never wraps.
        const frame = { kind: 'reply' as const, seq: Math.floor(random() * 2 ** 50), accepted: random() < 0.5 };
        sent.push(frame);
        wire.push(encodeReply(frame.seq, frame.accepted));
        continue;
      }
      const v6 = random() < 0.5;
      const client: ClientAddress | undefined = random() < 0.5 ? undefined : { family: v6 ? 'IPv6' : 'IPv4', port: Math.floor(random() * 65536), address: v6 ? `2001:db8::${i.toString(16)}` : `10.0.${i % 256}.${Math.floor(random() * 256)}` };
      const size = random() < 0.2 ? 0 : Math.floor(random() * (random() < 0.1 ? 70_000 : 600));
      const bytes = Buffer.alloc(size, i % 251);
      const frame = { kind: 'handoff' as const, seq: i % 3 === 0 ? 2 ** 32 + i : i, relayed: random() < 0.5, deadline: Date.now() + Math.floor(random() * 5000), client, bytes };
      sent.push(frame);
      wire.push(encodeHandoff(frame.seq, frame.relayed, frame.deadline, frame.client, frame.bytes));
    }
    const stream = Buffer.concat(wire);
    for (const cut of [1, 3, 7, 64, 4096, stream.length]) {
      const decoder = new LaneDecoder();
      const got: LaneFrame[] = [];
      for (let at = 0; at < stream.length; at += cut) {
        // Each chunk is reused after the call, as a read buffer is: the decoder must copy what it keeps.
        const chunk = Buffer.from(stream.subarray(at, at + cut));
        got.push(...decoder.push(chunk));
        chunk.fill(0xee);
      }
      assert.deepEqual(got, sent, `cut every ${cut} bytes`);
    }
  });

  test('a zero or absurd length, an unknown kind and a cut client address are refused', () => {
    const bad = [
      Buffer.from([0, 0, 0, 0]),
      (() => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(MAX_FRAME + 1);
        return b;
      })(),
      Buffer.from([2, 0, 0, 0, 9, 9]),
      Buffer.from([3, 0, 0, 0, 2, 1, 0]),
      (() => {
        const frame = encodeHandoff(1, false, 0, { family: 'IPv4', port: 1, address: '10.0.0.1' }, Buffer.alloc(0));
        frame.writeUInt32LE(frame.length - 4 - 3);
        return frame.subarray(0, frame.length - 3);
      })(),
    ];
    for (const chunk of bad) assert.throws(() => new LaneDecoder().push(chunk), /lane /, chunk.toString('hex'));
  });
});

/** Two ends of a lane over a real IPC pipe in a private directory. */
async function lanePair(t: TestContext, onFrame: (frame: LaneFrame, handle: RawHandle | undefined) => void): Promise<{ primary: Lane; worker: Lane; closed: { primary: boolean; worker: boolean } }> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-lane-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'lane.sock');
  const closed = { primary: false, worker: false };
  const accepted = new Promise<IpcPipe>((resolve) => void listenIpcPipe(path, resolve));
  const connected = new Promise<IpcPipe>((resolve, reject) => connectIpcPipe(path, (pipe, status) => (pipe ? resolve(pipe) : reject(new Error(`connect: ${status}`)))));
  const [workerPipe, primaryPipe] = await Promise.all([accepted, connected]);
  const worker = new Lane(workerPipe, onFrame, () => (closed.worker = true));
  const primary = new Lane(primaryPipe, onFrame, () => (closed.primary = true));
  t.after(() => {
    primary.close();
    worker.close();
  });
  return { primary, worker, closed };
}

describe('the handoff lane over an IPC pipe', () => {
  test('this Node has what the lane needs', () => {
    assert.equal(checkIpcPipes(), undefined);
  });

  test('200 TCP handles each arrive with their own frame, in order, and the replies come back', async (t) => {
    const server = createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const accepts: RawHandle[] = [];
    const acceptWaiters: (() => void)[] = [];
    serverHandleOf(server)!.onconnection = (status, handle) => {
      assert.equal(status, 0);
      accepts.push(handle!);
      acceptWaiters.shift()?.();
    };
    const port = (server.address() as { port: number }).port;
    const received: { frame: LaneFrame; handle: RawHandle | undefined }[] = [];
    const replies: LaneFrame[] = [];
    const { primary, worker, closed } = await lanePair(t, (frame, handle) => {
      if (frame.kind === 'handoff') received.push({ frame, handle });
      else replies.push(frame);
    });
    const clients: Socket[] = [];
    t.after(() => clients.forEach((c) => c.destroy()));
    for (let i = 0; i < 200; i++) {
      const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${2 + (i % 30)}` });
      socket.on('error', () => undefined);
      clients.push(socket);
      await once(socket, 'connect');
      if (accepts.length <= i) await new Promise<void>((resolve) => acceptWaiters.push(resolve));
      const handle = accepts[i]!;
      // The frame names its connection: the client's address and port, as the bytes read.
      const bytes = Buffer.from(`${socket.localAddress}:${socket.localPort} `.padEnd(i * 37, '.'));
      primary.send(encodeHandoff(i, i % 2 === 0, Date.now() + 2000, undefined, bytes), handle, () => assert.fail(`send ${i} failed`));
    }
    await waitFor(() => received.length >= 200, 10_000, '200 handoffs');
    assert.equal(received.length, 200);
    for (const [i, { frame, handle }] of received.entries()) {
      assert.ok(frame.kind === 'handoff');
      assert.equal(frame.seq, i);
      assert.equal(frame.relayed, i % 2 === 0);
      assert.ok(handle, `handoff ${i} came with a handle`);
      const named = frame.bytes.toString().split(' ')[0];
      assert.equal(`${peerAddress(handle)}:${peerPort(handle)}`, named, `handoff ${i}: the handle is the connection its frame names`);
      worker.send(encodeReply(frame.seq, true), undefined, () => assert.fail('reply failed'));
      handle.close();
    }
    await waitFor(() => replies.length >= 200, 10_000, '200 replies');
    assert.deepEqual(replies.map((r) => r.seq), received.map((r) => (r.frame as { seq: number }).seq));
    for (const h of accepts) h.close();

    // One end goes: the other hears it, and a send on a closed lane reports its failure.
    worker.close();
    await waitFor(() => closed.primary, 10_000, 'the primary end to hear the close');
    let failed = false;
    primary.send(encodeReply(1, true), undefined, () => (failed = true));
    assert.ok(failed);
  });
});

function peerPort(handle: RawHandle): number | undefined {
  const out: { port?: number } = {};
  handle.getpeername(out);
  return out.port;
}

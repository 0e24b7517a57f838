/**
 * The dispatcher and its handoff books, in memory: real TCP handles (a server that takes raw
 * accepts, as the primary does), workers reached through an in-memory channel that records
 * what it was sent, and the test answering for them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { serverHandleOf } from '../src/internal/net';
import { isOpen, type RawHandle } from '../src/internal/raw-handle';
import { Dispatcher, type WorkerPool } from '../src/primary/dispatcher';
import { Handoff } from '../src/primary/handoff';
import { HANDOFF_DEADLINE_MS, type ToWorker } from '../src/protocol/messages';
import { generateSid } from '../src/protocol/sid';
import { EngineSessions, NoneRouter, SidRouter } from '../src/routing';
import type { WorkerChannel } from '../src/supervisor/channel';
import { WorkerProcess } from '../src/supervisor/worker-process';
import { waitFor } from './helpers/corral';

/** A worker whose channel keeps what it was sent. */
function worker(slot: number): { wp: WorkerProcess; sent: { message: ToWorker; handle: RawHandle | undefined }[] } {
  const sent: { message: ToWorker; handle: RawHandle | undefined }[] = [];
  const channel: WorkerChannel = {
    pid: 1000 + slot,
    // Only corral's own messages go through the dispatcher's workers here.
    send: (message, handle) => void sent.push({ message: message as ToWorker, handle }),
    connected: () => true,
    exited: () => false,
    exitedHow: () => undefined,
    onExit: () => undefined,
    kill: () => undefined,
  };
  const wp = new WorkerProcess(slot, channel);
  wp.state = 'ready';
  return { wp, sent };
}

function pool(ready: () => WorkerProcess[], extra: Partial<WorkerPool> = {}): WorkerPool {
  return { ready, comingBack: () => false, unresponsive: () => false, anyUnresponsive: false, ...extra };
}

/** Real connections, accepted as raw handles; the client sockets to read what they get. */
async function connections(t: TestContext, count: number): Promise<{ handle: RawHandle; client: Socket }[]> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const handles: RawHandle[] = [];
  serverHandleOf(server)!.onconnection = (_status, handle) => handle && handles.push(handle);
  const clients = Array.from({ length: count }, () => {
    const c = connect((server.address() as { port: number }).port, '127.0.0.1');
    c.on('error', () => undefined);
    t.after(() => c.destroy());
    return c;
  });
  await waitFor(() => handles.length === count, 5000, 'the accepts');
  t.after(() => handles.forEach((h) => isOpen(h) && h.close()));
  return handles.map((handle, i) => ({ handle, client: clients[i]! }));
}

async function connection(t: TestContext): Promise<{ handle: RawHandle; client: Socket }> {
  return (await connections(t, 1))[0]!;
}

function handoff(handle: RawHandle, line?: string, target = -1): Handoff {
  return new Handoff(handle, Buffer.alloc(0), '', { line, target });
}

const seqOf = (m: ToWorker): number => (m.type === 'handoff' ? m.seq : -1);

describe('dispatcher', () => {
  test('a connection goes to the least-loaded ready worker; an accepted one is closed in the primary', async (t) => {
    const { handle } = await connection(t);
    const w0 = worker(0);
    const w1 = worker(1);
    w0.wp.report(5, 0);
    const d = new Dispatcher(new NoneRouter(), pool(() => [w0.wp, w1.wp]), 1000);
    d.dispatch(handoff(handle));
    assert.equal(w0.sent.length, 0);
    assert.equal(w1.sent.length, 1);
    const m = w1.sent[0]!.message;
    assert.equal(m.type, 'handoff');
    if (m.type === 'handoff') assert.ok(m.deadline >= Date.now() && m.deadline <= Date.now() + HANDOFF_DEADLINE_MS);
    d.settle(w1.wp, seqOf(m), true);
    assert.equal(isOpen(handle), false, 'the primary closes its copy once the worker took it');
  });

  test('a refused connection never goes back to a worker that refused it; refused by all, it waits, then gets 503', async (t) => {
    const { handle, client } = await connection(t);
    let answer = '';
    client.on('data', (c: Buffer) => (answer += c.toString()));
    const w0 = worker(0);
    const w1 = worker(1);
    const d = new Dispatcher(new NoneRouter(), pool(() => [w0.wp, w1.wp]), 100);
    d.dispatch(handoff(handle, 'GET / HTTP/1.1'));
    const first = w0.sent.length === 1 ? w0 : w1;
    const second = first === w0 ? w1 : w0;
    d.settle(first.wp, seqOf(first.sent[0]!.message), false);
    assert.equal(second.sent.length, 1, 'refused once: the other worker');
    d.settle(second.wp, seqOf(second.sent[0]!.message), false);
    assert.equal(first.sent.length + second.sent.length, 2, 'never back to a worker that refused it');
    await waitFor(() => answer.startsWith('HTTP/1.1 503 Service Unavailable'), 5000, 'the 503 once the wait is over');
  });

  test('an acceptance read in the same turn as the deadline sweep wins: the handoff is not sent elsewhere', async (t) => {
    const { handle } = await connection(t);
    const w0 = worker(0);
    const w1 = worker(1);
    const d = new Dispatcher(new NoneRouter(), pool(() => [w0.wp, w1.wp]), 1000);
    d.dispatch(handoff(handle));
    const slow = w0.sent.length === 1 ? w0 : w1;
    const other = slow === w0 ? w1 : w0;
    d.expire([w0.wp, w1.wp], Date.now() + HANDOFF_DEADLINE_MS + 2000);
    // The acceptance was already in the channel: the poll phase reads it before the sweep decides.
    d.settle(slow.wp, seqOf(slow.sent[0]!.message), true);
    await new Promise((r) => setImmediate(r));
    assert.equal(other.sent.length, 0, 'served twice');
    assert.equal(isOpen(handle), false);
  });

  test('a handoff unanswered past its deadline goes to another worker, and a late worker\'s books forget it', async (t) => {
    const { handle } = await connection(t);
    const w0 = worker(0);
    const w1 = worker(1);
    const d = new Dispatcher(new NoneRouter(), pool(() => [w0.wp, w1.wp]), 1000);
    d.dispatch(handoff(handle));
    const stuck = w0.sent.length === 1 ? w0 : w1;
    const other = stuck === w0 ? w1 : w0;
    d.expire([w0.wp, w1.wp], Date.now() + HANDOFF_DEADLINE_MS - 100);
    await new Promise((r) => setImmediate(r));
    assert.equal(other.sent.length, 0, 'not before its deadline');
    d.expire([w0.wp, w1.wp], Date.now() + HANDOFF_DEADLINE_MS + 2000);
    assert.equal(other.sent.length, 0, 'not before the I/O of this turn is read');
    await new Promise((r) => setImmediate(r));
    assert.equal(other.sent.length, 1);
    // The stuck worker wakes and accepts (it would refuse: past the deadline); the primary ignores it.
    d.settle(stuck.wp, seqOf(stuck.sent[0]!.message), true);
    assert.ok(isOpen(handle), 'an answer for a forgotten handoff closes nothing');
  });

  test('a live worker whose answers are lost (its lane broke): what it had not answered is closed, never sent to another, and its late answers close nothing twice', async (t) => {
    const pairs = await connections(t, 4);
    const w0 = worker(0);
    const w1 = worker(1);
    const d = new Dispatcher(new NoneRouter(), pool(() => [w0.wp]), 1000);
    for (const { handle } of pairs) d.dispatch(handoff(handle));
    assert.equal(w0.sent.length, 4);
    d.settle(w0.wp, seqOf(w0.sent[0]!.message), true);
    d.abandon(w0.wp);
    for (const { handle } of pairs) assert.equal(isOpen(handle), false);
    d.expire([w0.wp, w1.wp], Date.now() + HANDOFF_DEADLINE_MS + 2000);
    await new Promise((r) => setImmediate(r));
    assert.equal(w1.sent.length, 0, 'an abandoned handoff is never routed again');
    d.settle(w0.wp, seqOf(w0.sent[1]!.message), false);
    assert.equal(w1.sent.length, 0, 'nor on a refusal that comes after');
  });

  test('with no worker ready, connections wait and go to the first one that becomes ready', async (t) => {
    const conns = await connections(t, 3);
    const w0 = worker(0);
    let ready: WorkerProcess[] = [];
    const d = new Dispatcher(new NoneRouter(), pool(() => ready), 5000);
    for (const c of conns) d.dispatch(handoff(c.handle));
    assert.equal(w0.sent.length, 0);
    ready = [w0.wp];
    d.flush();
    assert.equal(w0.sent.length, 3);
    d.close();
  });

  test('at most 4096 connections wait for a ready worker; past that they are closed at once', () => {
    const fake = (): RawHandle => {
      const h = { fd: 3, close: () => void (h.fd = -1) } as unknown as RawHandle & { fd: number };
      return h;
    };
    const d = new Dispatcher(new NoneRouter(), pool(() => []), 60_000);
    const handles = Array.from({ length: 4097 }, fake);
    for (const h of handles) d.dispatch(handoff(h));
    assert.equal(handles.filter((h) => !isOpen(h)).length, 1, 'the 4097th is closed');
    d.close();
    assert.equal(handles.filter((h) => isOpen(h)).length, 0, 'close() closes every waiting connection');
  });

  test('a connection pinned to a slot waits while that slot comes back, and goes to it, not to another ready worker', async (t) => {
    const { handle } = await connection(t);
    const w0 = worker(0);
    const w1 = worker(1);
    let ready = [w0.wp];
    const d = new Dispatcher(new NoneRouter(), pool(() => ready, { comingBack: (slot) => slot === 1 }), 5000);
    const h = handoff(handle, undefined, 1);
    h.pinned = true;
    d.dispatch(h);
    assert.equal(w0.sent.length, 0, 'not to slot 0 while slot 1 is coming back');
    ready = [w0.wp, w1.wp];
    d.flush();
    assert.equal(w1.sent.length, 1);
    d.close();
  });

  test('a request of a session whose worker is unresponsive is answered 503 with Retry-After, not routed', async (t) => {
    const { handle, client } = await connection(t);
    let answer = '';
    client.on('data', (c: Buffer) => (answer += c.toString()));
    const w0 = worker(0);
    const d = new Dispatcher(new SidRouter(new EngineSessions('h1', ['/socket.io/'])), pool(() => [w0.wp], { unresponsive: (slot) => slot === 1, anyUnresponsive: true }), 1000);
    d.dispatch(handoff(handle, `GET /socket.io/?EIO=4&transport=polling&sid=${generateSid('h1', 1)} HTTP/1.1`));
    assert.equal(w0.sent.length, 0);
    await waitFor(() => /^HTTP\/1\.1 503 [^]*Retry-After: 2\r\n/.test(answer), 5000, 'the 503');
  });
});

test('a slot port\'s connection to an unresponsive worker waits for that slot (it cannot be answered unread)', async (t) => {
  const { handle } = await connection(t);
  const w0 = worker(0);
  const w1 = worker(1);
  let ready = [w0.wp];
  let stalled = true;
  const d = new Dispatcher(new NoneRouter(), pool(() => ready, { comingBack: () => true, unresponsive: (slot) => stalled && slot === 1, anyUnresponsive: true }), 5000);
  const h = handoff(handle, undefined, 1);
  h.pinned = true;
  d.dispatch(h);
  assert.ok(isOpen(handle), 'closed at once');
  assert.equal(w0.sent.length, 0, 'sent to another worker while its own may answer again');
  stalled = false;
  ready = [w0.wp, w1.wp];
  d.flush();
  assert.equal(w1.sent.length, 1);
  d.close();
});

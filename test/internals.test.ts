/**
 * Contract tests of every Node internal corral relies on (src/internal/), one behaviour each,
 * so that a Node upgrade that changes one fails here first, by name. They run on each Node
 * line CI covers (20, 22, 24).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer, request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { checkRuntime } from '../src/internal/check';
import { boundHeadTime, isWritingResponse } from '../src/internal/http';
import { atConnectionLimit, handleOf, holdReads, serverHandleOf, socketOnHandle } from '../src/internal/net';
import { checkReadState, isOpen, lastRead, peerAddress, type RawHandle } from '../src/internal/raw-handle';
import { ROOT, waitFor } from './helpers/corral';

/** A listening server whose accepts arrive as raw handles, as the primary takes them. */
async function rawAccepts(t: TestContext): Promise<{ port: number; next(): Promise<RawHandle> }> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const handle = serverHandleOf(server);
  assert.ok(handle, 'a listening net.Server has a _handle');
  assert.ok('onconnection' in handle, 'its handle takes an onconnection callback');
  const queue: RawHandle[] = [];
  const waiters: ((h: RawHandle) => void)[] = [];
  handle.onconnection = (status, client) => {
    assert.equal(status, 0);
    assert.ok(client);
    const w = waiters.shift();
    if (w) w(client);
    else queue.push(client);
  };
  return {
    port: (server.address() as { port: number }).port,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  };
}

function client(t: TestContext, port: number, localAddress = '127.0.0.1'): Socket {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  t.after(() => socket.destroy());
  return socket;
}

describe('Node internals corral relies on', () => {
  test('this Node passes corral\'s start check, with and without head reading', () => {
    assert.doesNotThrow(() => checkRuntime(true));
    assert.doesNotThrow(() => checkRuntime(false));
    assert.equal(checkReadState(), undefined);
  });

  test('a raw accepted handle has an fd, its peer address, and closes', async (t) => {
    const accepts = await rawAccepts(t);
    client(t, accepts.port, '127.0.0.5');
    const handle = await accepts.next();
    assert.ok(handle.fd >= 0);
    assert.equal(peerAddress(handle), '127.0.0.5');
    assert.ok(isOpen(handle));
    handle.close();
    assert.equal(isOpen(handle), false, 'fd is -1 once closed');
  });

  test('reading a raw handle: onread gets an ArrayBuffer and Node\'s read state gives the bytes; readStop stops it', async (t) => {
    const accepts = await rawAccepts(t);
    const socket = client(t, accepts.port);
    const handle = await accepts.next();
    const got: Buffer[] = [];
    handle.onread = (buffer) => {
      const data = lastRead(buffer);
      if (typeof data !== 'number') got.push(Buffer.from(data));
    };
    assert.equal(handle.readStart(), 0);
    socket.write('GET / HTTP/1.1\r\n');
    await waitFor(() => Buffer.concat(got).toString() === 'GET / HTTP/1.1\r\n', 5000, 'the bytes through the raw handle');
    assert.equal(handle.readStop(), 0);
    socket.write('later');
    // Nothing is read after readStop: the kernel keeps the bytes for whoever gets the handle.
    const wrapped = socketOnHandle(handle);
    const later = await new Promise<string>((resolve) => wrapped.once('data', (c: Buffer) => resolve(c.toString())));
    assert.equal(later, 'later');
    wrapped.destroy();
  });

  test('the end of a stream reaches onread as a negative status', async (t) => {
    const accepts = await rawAccepts(t);
    const socket = client(t, accepts.port);
    const handle = await accepts.next();
    let status = 0;
    handle.onread = (buffer) => {
      const data = lastRead(buffer);
      if (typeof data === 'number') status = data;
    };
    handle.readStart();
    socket.end();
    await waitFor(() => status < 0, 5000, 'EOF');
    handle.close();
  });

  test('a net.Socket built on a raw handle writes to the client', async (t) => {
    const accepts = await rawAccepts(t);
    const socket = client(t, accepts.port);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const wrapped = socketOnHandle(await accepts.next());
    wrapped.end('hello');
    await waitFor(() => text === 'hello', 5000, 'the answer');
  });

  test('holdReads stops a net.Socket reading for good, and its undo makes it read again', async (t) => {
    const server: Server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const accepted = once(server, 'connection');
    const socket = client(t, (server.address() as { port: number }).port);
    const [peer] = (await accepted) as [Socket];
    t.after(() => peer.destroy());
    assert.ok(handleOf(peer));
    const got: string[] = [];
    const release = holdReads(peer)!;
    peer.on('data', (c: Buffer) => got.push(c.toString()));
    socket.write('held');
    await new Promise((r) => setImmediate(r));
    // However long it waits, nothing is read while held.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, []);
    release();
    await waitFor(() => got.join('') === 'held', 5000, 'reads after the undo');
  });

  test('an HTTP server marks the socket while it writes a response, and counts its connections for maxConnections', async (t) => {
    let during = false;
    const server = createHttpServer((req, res) => {
      during = isWritingResponse(req.socket);
      res.end('ok');
    });
    server.maxConnections = 1;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const port = (server.address() as { port: number }).port;
    assert.equal(atConnectionLimit(server), false);
    const res = await new Promise<Socket>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: '/', agent: false, headers: { connection: 'keep-alive' } }, (r) => {
        r.resume();
        r.on('end', () => resolve(req.socket!));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(during, true, '_httpMessage is set while a response is written');
    assert.equal(atConnectionLimit(server), true, "net's _connections counts the open connection");
    res.destroy();
  });

  test('headersTimeout and connectionsCheckingInterval set before listening bound a dripping head', async (t) => {
    const server = createHttpServer((_req, res) => res.end('ok'));
    boundHeadTime(server, 300);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const socket = client(t, (server.address() as { port: number }).port);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.write('GET / HTTP/1.1\r\n');
    const drip = setInterval(() => socket.write('X-A: b\r\n'), 50);
    t.after(() => clearInterval(drip));
    await waitFor(() => text.startsWith('HTTP/1.1 408'), 3000, "Node's 408 within ~300 ms plus one check interval");
  });

  test('a cluster worker has cluster._getServer, and Module.runMain runs an app as main', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-internals-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'fork.js');
    writeFileSync(file, `
      const cluster = require('node:cluster');
      if (cluster.isPrimary) {
        cluster.setupPrimary({ silent: false });
        const w = cluster.fork();
        w.on('message', (m) => { console.log(JSON.stringify(m)); w.kill(); });
      } else {
        process.send({ getServer: typeof cluster._getServer, runMain: typeof require('node:module').runMain });
      }`);
    const out = execFileSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.deepEqual(JSON.parse(out.trim()), { getServer: 'function', runMain: 'function' });
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runSessions } from './helpers/clients';
import { fixture, startCorral, type Running } from './helpers/corral';
import { exchange } from './helpers/engine';
import { rawExchange } from './helpers/raw';

const HEAD_TIMEOUT_MS = 400;
const MAX_HEAD = 1024;
const noAnswer = (): boolean => false;

describe('bad input gets a clear answer or a close, and everyone else is served', () => {
  let corral: Running;
  let primaryPid: number;
  before(async () => {
    corral = await startCorral('suite', fixture('echo-io.js'), {
      args: ['--head-timeout', String(HEAD_TIMEOUT_MS), '--max-head-bytes', String(MAX_HEAD)],
    });
    primaryPid = corral.proc.pid!;
  });
  after(() => corral?.stop());

  test('a request line over --max-head-bytes is answered 414 by the primary', async () => {
    const r = await rawExchange(corral.port, [`GET /${'a'.repeat(MAX_HEAD + 10)}`], noAnswer, 5000);
    assert.ok(r.closed);
    assert.match(r.text, /^HTTP\/1\.1 414 URI Too Long\r\n/);
    assert.match(r.text, /--max-head-bytes/);
  });

  test('a request line over --max-head-bytes is answered 414 even when it arrives whole, in one packet', async () => {
    for (const extra of [1, 10, 5000]) {
      const r = await rawExchange(corral.port, [`GET /${'a'.repeat(MAX_HEAD + extra)} HTTP/1.1\r\nHost: x\r\n\r\n`], noAnswer, 5000);
      assert.ok(r.closed);
      assert.match(r.text, /^HTTP\/1\.1 414 URI Too Long\r\n/, `line of ${MAX_HEAD + extra} bytes`);
    }
    const fits = await rawExchange(corral.port, [`GET /health?${'a'.repeat(MAX_HEAD - 40)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], noAnswer, 5000);
    assert.match(fits.text, /^HTTP\/1\.1 200 /);
  });

  test('a connection that sends nothing is closed after --head-timeout', async () => {
    const started = Date.now();
    const r = await rawExchange(corral.port, [], noAnswer, 10_000);
    assert.ok(r.closed, 'the primary should close it');
    assert.equal(r.text, '');
    assert.ok(Date.now() - started >= HEAD_TIMEOUT_MS - 50);
  });

  test('a half-sent request line is answered 408 after --head-timeout', async () => {
    const r = await rawExchange(corral.port, ['GET /slow'], noAnswer, 10_000);
    assert.ok(r.closed);
    assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('a request line followed by dripping header bytes gets 408 from the worker within about --head-timeout', async () => {
    const socket = connect(corral.port, '127.0.0.1');
    let text = '';
    // A drip already on the wire when the worker closes meets a reset: the answer came first.
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    const started = Date.now();
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.write('X-Drip: 1\r\n'), 50);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      clearInterval(drip);
    });
    try {
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`still open after 5 s; got ${JSON.stringify(text)}`)), 5000))]);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(Date.now() - started < HEAD_TIMEOUT_MS * 4, `held ${Date.now() - started} ms`);
  });

  test('an HTTP/0.9 "GET /" that never ends its head is closed within about --head-timeout', async () => {
    const started = Date.now();
    const r = await rawExchange(corral.port, ['GET /\r\n'], noAnswer, 5000);
    assert.ok(r.closed, `still open after 5 s; got ${JSON.stringify(r.text)}`);
    assert.ok(Date.now() - started < HEAD_TIMEOUT_MS * 4, `held ${Date.now() - started} ms`);
  });

  test('absurd methods and a request line full of query parameters get an answer, not a hang', async () => {
    for (const method of ['FOOBAR', 'G E T', '\x00GET', 'X'.repeat(200), 'PRI']) {
      const r = await rawExchange(corral.port, [`${method} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], noAnswer, 5000);
      assert.ok(r.closed, `${JSON.stringify(method)} left the connection open`);
      assert.match(r.text, /^(HTTP\/1\.1 \d{3} |$)/, `${JSON.stringify(method)}: ${JSON.stringify(r.text.slice(0, 80))}`);
    }
    // 10k parameters do not fit --max-head-bytes: 414 from the primary. Within it, the sid scan still ends.
    const many = Array.from({ length: 10_000 }, (_, i) => `p${i}=1`).join('&');
    const huge = await rawExchange(corral.port, [`GET /socket.io/?${many}&sid=x HTTP/1.1\r\nHost: x\r\n\r\n`], noAnswer, 5000);
    assert.match(huge.text, /^HTTP\/1\.1 414 /);
    const within = Array.from({ length: 200 }, () => '&').join('');
    const fits = await rawExchange(corral.port, [`GET /socket.io/?EIO=4&transport=polling${within}&sid=nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], noAnswer, 5000);
    assert.match(fits.text, /^HTTP\/1\.1 400 /);
  });

  test('garbage bytes reach a worker, whose HTTP parser answers 400', async () => {
    const r = await rawExchange(corral.port, [Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])], noAnswer, 5000);
    assert.ok(r.closed);
    assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test('a client that leaves mid-line costs nothing', async () => {
    for (let i = 0; i < 50; i++) await rawExchange(corral.port, ['GET /socket.io/?EIO=4&sid=1.'], (t) => t === '', 1);
    const r = await exchange(`${corral.url}/health`, { agent: false });
    assert.equal(r.status, 200);
  });

  for (const [what, sid] of [
    ['a slot that does not exist', 'zz.AAAAAAAAAAAAAAAAAAAA'],
    ['a live slot but an unknown session', '1.AAAAAAAAAAAAAAAAAAAA'],
    ['no slot at all', 'not-a-corral-sid'],
    ['another host\'s id', 'other-host.0.AAAAAAAAAAAAAAAAAAAA'],
  ] as const) {
    test(`a forged sid with ${what} gets Engine.IO's own "Session ID unknown"`, async () => {
      const r = await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { agent: false });
      assert.equal(r.status, 400);
      assert.deepEqual(JSON.parse(r.body), { code: 1, message: 'Session ID unknown' });
    });
  }

  test('while all of that goes on, 100 polling sessions are served without a single failure, by the same primary', async () => {
    const abuse = (async () => {
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline) {
        await Promise.all([
          rawExchange(corral.port, [`GET /${'b'.repeat(MAX_HEAD * 2)}`], noAnswer, 2000),
          rawExchange(corral.port, [Buffer.from('\x16\x03\x01\x02\x00garbage\r\n\r\n', 'latin1')], noAnswer, 2000),
          exchange(`${corral.url}/socket.io/?EIO=4&transport=polling&sid=7.forged`, { agent: false }),
          rawExchange(corral.port, ['GET /socket.io/?EIO=4&transport=polling&sid=0.'], () => true, 1),
        ]);
      }
    })();
    const r = await runSessions(corral.url, 100, 10, { transports: ['polling'] }, 25);
    await abuse;
    assert.deepEqual(r.errors.slice(0, 3), []);
    assert.equal(r.connected, 100);
    assert.equal(corral.proc.pid, primaryPid);
    assert.equal(corral.proc.exitCode, null, 'the primary is still running');
  });
});

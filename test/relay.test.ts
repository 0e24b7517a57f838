import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { ToPrimary } from '../src/protocol/messages';
import { MAX_RELAY_TRAILING_BYTES, Relay } from '../src/worker/relay';
import { waitFor } from './helpers/corral';

/**
 * The worker's side of a relayed upgrade, with a real HTTP server and a real client socket.
 * The primary is played by the test: it receives what the worker sends and answers it.
 */
async function upgradeThroughRelay(t: TestContext, trailing: Buffer): Promise<{ sent: ToPrimary[]; relay: Relay; client: Socket; served: Promise<{ socket: Socket; rest: Buffer }> }> {
  const sent: ToPrimary[] = [];
  const relay = new Relay((message) => sent.push(message));
  let serve!: (v: { socket: Socket; rest: Buffer }) => void;
  const served = new Promise<{ socket: Socket; rest: Buffer }>((resolve) => (serve = resolve));
  const server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    relay.relay(1, req, socket, head, (rest) => serve({ socket, rest }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
    server.closeAllConnections();
  });
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  t.after(() => client.destroy());
  client.on('error', () => undefined);
  client.write(Buffer.concat([Buffer.from('GET /socket.io/?EIO=4&transport=websocket&sid=h.1.x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'), trailing]));
  return { sent, relay, client, served };
}

test('a relay the primary refuses is served here, and the socket reads again', async (t) => {
  const { sent, relay, client, served } = await upgradeThroughRelay(t, Buffer.from('early'));
  await waitFor(() => sent.length === 1, 5000, 'the relay message');
  const message = sent[0]!;
  assert.equal(message.type, 'relay');
  if (message.type !== 'relay') return;
  assert.ok(message.deadline > Date.now(), 'the relay carries a deadline ahead');
  relay.settle(message.seq, false);
  const { socket, rest } = await served;
  assert.equal(rest.toString(), 'early', 'the bytes read after the head are handed over');
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  client.write('after the refusal');
  await waitFor(() => Buffer.concat(got).toString() === 'after the refusal', 5000, 'the socket to read again after a refused relay');
});

test('a relay nobody answers is served here once its deadline has passed', async (t) => {
  const { sent, served } = await upgradeThroughRelay(t, Buffer.alloc(0));
  await waitFor(() => sent.length === 1, 5000, 'the relay message');
  const started = Date.now();
  await served;
  assert.ok(Date.now() - started < 5000);
});

test(`an upgrade carrying more than ${MAX_RELAY_TRAILING_BYTES} bytes after its head is refused with 400, not relayed`, async (t) => {
  const { sent, client } = await upgradeThroughRelay(t, Buffer.alloc(64 * 1024, 0x41));
  let answer = '';
  client.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  await once(client, 'close');
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.equal(sent.length, 0, 'it was relayed');
});

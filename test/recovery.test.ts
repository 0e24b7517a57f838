import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { io as connect, type Socket } from 'socket.io-client';
import { CLI, fixture, ROOT, startCorral, statusOf, waitFor, type Running } from './helpers/corral';
import { exchange } from './helpers/engine';

const APP = fixture('recovery-app.js');

/** One client of the test, and everything it saw. */
interface Tracked {
  readonly room: number;
  readonly socket: Socket;
  /** `socket.id` at each connect, and `socket.recovered` at each reconnect. */
  readonly ids: string[];
  readonly recovered: boolean[];
  readonly shared: number[];
  readonly own: number[];
}

interface WhoAmI {
  pid: number;
  id: string;
  rooms: string[];
  data: { secret?: string; value?: string };
  recovered: boolean;
}

function track(url: string, room: number, options: Parameters<typeof connect>[1] = {}): Tracked {
  const socket = connect(url, { forceNew: true, auth: { room, secret: `s${room}` }, reconnectionDelay: 100, reconnectionDelayMax: 500, ...options });
  const tracked: Tracked = { room, socket, ids: [], recovered: [], shared: [], own: [] };
  socket.on('connect', () => {
    if (tracked.ids.length > 0) tracked.recovered.push(socket.recovered);
    tracked.ids.push(socket.id ?? '');
  });
  socket.on('shared', (n: number) => tracked.shared.push(n));
  socket.on('own', (n: number) => tracked.own.push(n));
  return tracked;
}

/** 100 clients, half polling-only (the others: polling, then WebSocket), all connected. */
async function hundredClients(t: { after(fn: () => void): void }, url: string): Promise<Tracked[]> {
  const clients = Array.from({ length: 100 }, (_, i) => track(url, i, i % 2 === 0 ? { transports: ['polling'] } : {}));
  t.after(() => {
    for (const c of clients) c.socket.disconnect();
  });
  await waitFor(() => clients.every((c) => c.ids.length === 1), 30_000, 'every client to connect');
  return clients;
}

const whoami = (socket: Socket): Promise<WhoAmI> => socket.timeout(10_000).emitWithAck('whoami') as Promise<WhoAmI>;
const ctl = (corral: Running, ...args: string[]): Promise<{ stdout: string }> =>
  promisify(execFile)(process.execPath, [CLI, ...args, '--control', /control socket (\S+)/.exec(corral.output())![1]!], { cwd: ROOT, timeout: 60_000 });
/**
 * Publishes 1, 2, 3, ... (to the shared room and to each client's own room) from a driver
 * client, about 50 a second, until stopped. A number counts as published once acked, or, when
 * the ack was lost with a worker, once any client got it; else it is sent again, so the
 * numbers that exist are exactly 1..published.
 */
class Publisher {
  published = 0;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(readonly driver: Socket, clients: readonly Tracked[]) {
    const rooms = clients.map((c) => c.room);
    this.#done = (async () => {
      for (let round = 0; !this.#stopped && round < 20_000; round++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (!driver.connected) continue;
        const n = this.published + 1;
        try {
          await driver.timeout(3000).emitWithAck('publish', { n, rooms });
          this.published = n;
        } catch {
          if (clients.some((c) => c.shared.includes(n))) this.published = n;
        }
      }
    })();
  }

  async stop(): Promise<number> {
    this.#stopped = true;
    await this.#done;
    return this.published;
  }
}

/**
 * Publish 20 numbers, `disrupt`, wait until every client of `moved` has reconnected, publish 20
 * more, stop: resolves the last number published.
 */
async function publishAround(driver: Socket, clients: readonly Tracked[], disrupt: () => Promise<void>, moved: readonly Tracked[], what: string): Promise<number> {
  const publisher = new Publisher(driver, clients);
  await waitFor(() => publisher.published >= 20, 20_000, `20 messages before ${what}`);
  await disrupt();
  await waitFor(() => moved.every((c) => c.ids.length >= 2 && c.socket.connected), 30_000, `the clients to reconnect after ${what}`);
  const after = publisher.published;
  await waitFor(() => publisher.published >= after + 20, 20_000, `20 messages after ${what}`);
  return publisher.stop();
}

/** Every client got 1..last exactly once, in order, on both streams; a failure names every client that did not, and how. */
async function assertEveryMessageOnce(clients: readonly Tracked[], last: number): Promise<void> {
  const expected = Array.from({ length: last }, (_, i) => i + 1);
  await waitFor(() => clients.every((c) => c.shared.length >= last && c.own.length >= last), 15_000, `every client to have ${last} messages`).catch(() => undefined);
  const missing = (got: number[]): string => {
    const absent = expected.filter((n) => !got.includes(n));
    const twice = got.filter((n, i) => got.indexOf(n) !== i);
    const disorder = got.filter((n, i) => i > 0 && n < got[i - 1]!);
    return `${absent.length > 0 ? `missing ${absent}` : ''}${twice.length > 0 ? ` twice ${twice}` : ''}${disorder.length > 0 ? ` out of order ${disorder}` : ''}`;
  };
  const summary = clients
    .filter((c) => c.shared.length !== last || c.own.length !== last)
    .map((c) => `client ${c.room} (${c.socket.io.engine?.transport?.name}, ${c.ids.length - 1} reconnects): shared ${missing(c.shared)}; own ${missing(c.own)}`)
    .join('\n');
  for (const c of clients) {
    assert.deepEqual(c.shared, expected, summary);
    assert.deepEqual(c.own, expected, summary);
  }
}

describe('connection-state recovery on the embedded cluster adapter', () => {
  test('a rolling reload of 2 workers: 100 clients (half polling-only) come back recovered, with their id, rooms, socket.data and every message exactly once, in order', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2 });
    const clients = await hundredClients(t, corral.url);
    for (const c of clients) await c.socket.timeout(10_000).emitWithAck('remember', `v${c.room}`);
    const before = new Set((await Promise.all(clients.map((c) => whoami(c.socket)))).map((w) => w.pid));
    assert.equal(before.size, 2, 'clients live on both workers');
    const driver = connect(corral.url, { forceNew: true, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 });
    t.after(() => driver.disconnect());
    const last = await publishAround(driver, clients, async () => void (await ctl(corral, 'reload')), clients, 'the reload');
    // New sessions avoid the worker the reload replaces next, so a client moves once, not twice (a cut connection may add one).
    const once = clients.filter((c) => c.ids.length === 2).length;
    assert.ok(once >= 95, `${once} of 100 clients moved exactly once`);

    await assertEveryMessageOnce(clients, last);
    for (const c of clients) {
      assert.ok(c.recovered.every(Boolean), `client ${c.room}: recovered at each of its ${c.recovered.length} reconnects: ${c.recovered}`);
      assert.ok(c.ids.every((id) => id === c.ids[0]), `client ${c.room}: kept its socket.id: ${c.ids}`);
      const me = await whoami(c.socket);
      assert.ok(!before.has(me.pid), `client ${c.room} is on a new worker`);
      assert.ok(me.rooms.includes('shared') && me.rooms.includes(`own:${c.room}`), `client ${c.room}: rooms ${me.rooms}`);
      assert.deepEqual({ secret: me.data.secret, value: me.data.value }, { secret: `s${c.room}`, value: `v${c.room}` }, `client ${c.room}: socket.data survives the reload`);
    }
  });

  test('kill -9 of a worker: its clients recover on a live worker with their id, rooms and every message they missed; the others never notice', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2 });
    const clients = await hundredClients(t, corral.url);
    const driver = connect(corral.url, { forceNew: true, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 });
    t.after(() => driver.disconnect());
    await waitFor(() => driver.connected, 10_000, 'the driver to connect');
    const driverPid = (await whoami(driver)).pid;
    const victim = statusOf(corral).workers.find((w) => w.pid !== null && w.pid !== driverPid && w.state === 'ready')!.pid!;
    const where = await Promise.all(clients.map((c) => whoami(c.socket)));
    const victims = clients.filter((_, i) => where[i]!.pid === victim);
    const others = clients.filter((_, i) => where[i]!.pid !== victim);
    assert.ok(victims.length > 10 && others.length > 10, `clients on both workers: ${victims.length} / ${others.length}`);
    const last = await publishAround(driver, clients, async () => void process.kill(victim, 'SIGKILL'), victims, 'the kill');

    await assertEveryMessageOnce(clients, last);
    for (const c of victims) {
      assert.ok(c.recovered.length > 0 && c.recovered.every(Boolean), `client ${c.room}: recovered: ${c.recovered}`);
      assert.ok(c.ids.every((id) => id === c.ids[0]), `client ${c.room}: kept its socket.id: ${c.ids}`);
      const me = await whoami(c.socket);
      assert.notEqual(me.pid, victim);
      assert.ok(me.rooms.includes('shared') && me.rooms.includes(`own:${c.room}`), `client ${c.room}: rooms ${me.rooms}`);
    }
    for (const c of others) assert.equal(c.ids.length, 1, `client ${c.room} on the live worker never reconnected`);
    await waitFor(() => /left \d+ Socket\.IO session\(s\) without handing them over/.test(corral.output()), 5000, 'the log line about the kept sessions');
  });

  test('socket.data that JSON cannot carry: the reload says so once, and the client still recovers its id and rooms', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2 });
    const plain = track(corral.url, 1, { transports: ['websocket'] });
    const cyclic = track(corral.url, 2, { transports: ['websocket'] });
    const driver = connect(corral.url, { forceNew: true, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 });
    t.after(() => {
      for (const c of [plain, cyclic]) c.socket.disconnect();
      driver.disconnect();
    });
    await waitFor(() => plain.ids.length === 1 && cyclic.ids.length === 1 && driver.connected, 10_000, 'clients to connect');
    await plain.socket.timeout(5000).emitWithAck('remember', 'kept');
    await cyclic.socket.timeout(5000).emitWithAck('remember', 'cyclic');
    await driver.timeout(5000).emitWithAck('publish', { n: 1, rooms: [1, 2] });
    await waitFor(() => plain.shared.length === 1 && cyclic.shared.length === 1, 5000, 'the first message');
    await ctl(corral, 'reload');
    await waitFor(() => plain.ids.length >= 2 && cyclic.ids.length >= 2 && plain.socket.connected && cyclic.socket.connected, 20_000, 'both to reconnect');
    assert.deepEqual([plain.recovered.every(Boolean), cyclic.recovered.every(Boolean)], [true, true]);
    assert.equal(cyclic.ids.at(-1), cyclic.ids[0]);
    const [kept, dropped] = [await whoami(plain.socket), await whoami(cyclic.socket)];
    assert.equal(kept.data.value, 'kept');
    assert.deepEqual(dropped.data, {}, 'the session is kept without its data');
    assert.ok(dropped.rooms.includes('own:2'));
    assert.match(corral.output(), /socket\.data of a socket in namespace "\/" cannot be sent as JSON \(Converting circular structure to JSON/);
    assert.equal(corral.output().match(/cannot be sent as JSON/g)?.length, 1, 'said once per worker, not per socket');
    driver.disconnect();
  });

  test('a client back before its old connection was noticed dead recovers: the worker still holding the old socket hands it over', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2 });
    // A path that can go dead on the client's side only, as a cut network does: the worker's end stays open.
    const sockets = new Set<net.Socket>();
    let lastClientSide: net.Socket | undefined;
    const cutter = net.createServer((client) => {
      const upstream = net.connect(corral.port, '127.0.0.1');
      sockets.add(upstream).add(client);
      lastClientSide = client;
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      cutter.close();
    });
    const url = `http://127.0.0.1:${(cutter.address() as net.AddressInfo).port}`;
    const client = track(url, 1, { transports: ['websocket'] });
    const driver = connect(corral.url, { forceNew: true, transports: ['websocket'] });
    t.after(() => {
      client.socket.disconnect();
      driver.disconnect();
    });
    await waitFor(() => client.ids.length === 1 && driver.connected, 10_000, 'clients to connect');
    await driver.timeout(5000).emitWithAck('publish', { n: 1, rooms: [1] });
    await waitFor(() => client.shared.length === 1, 5000, 'the first message');
    // Cut the client's side only, then publish while the worker still thinks it is connected.
    const old = lastClientSide!;
    old.unpipe();
    old.destroy();
    await driver.timeout(5000).emitWithAck('publish', { n: 2, rooms: [1] });
    await waitFor(() => client.ids.length === 2, 10_000, 'the client to reconnect');
    assert.deepEqual(client.recovered, [true], 'recovered although its old socket was still open');
    assert.equal(client.ids[1], client.ids[0]);
    await waitFor(() => client.shared.length === 2, 5000, 'the message sent meanwhile');
    assert.deepEqual(client.shared, [1, 2]);
    driver.disconnect();
  });

  test('a session disconnected longer than maxDisconnectionDuration comes back as a new one; a brief disconnection recovers', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2, env: { RECOVERY_TTL_MS: '1000' } });
    const brief = track(corral.url, 1, { reconnectionDelay: 100, randomizationFactor: 0 });
    const late = track(corral.url, 2, { reconnectionDelay: 2500, reconnectionDelayMax: 5000, randomizationFactor: 0 });
    const driver = connect(corral.url, { forceNew: true, transports: ['websocket'] });
    t.after(() => {
      for (const c of [brief, late]) c.socket.disconnect();
      driver.disconnect();
    });
    await waitFor(() => brief.ids.length === 1 && late.ids.length === 1 && driver.connected, 10_000, 'clients to connect');
    await driver.timeout(5000).emitWithAck('publish', { n: 1, rooms: [1, 2] });
    await waitFor(() => brief.shared.length === 1 && late.shared.length === 1, 5000, 'the first message');
    for (const c of [brief, late]) c.socket.io.engine.close();
    await waitFor(() => brief.ids.length === 2, 10_000, 'the brief one to reconnect');
    assert.deepEqual(brief.recovered, [true]);
    assert.equal(brief.ids[1], brief.ids[0]);
    await waitFor(() => late.ids.length === 2, 10_000, 'the late one to reconnect');
    assert.deepEqual(late.recovered, [false], 'past maxDisconnectionDuration the session is gone');
    assert.notEqual(late.ids[1], late.ids[0]);
    driver.disconnect();
  });

  test('under 1,000 broadcasts/s for 30 s the store stays under --recovery-memory; a client whose missed packets were dropped starts afresh, a brief one recovers them all', async (t) => {
    const corral = await startCorral(t, APP, { workers: 2, args: ['--recovery-memory', '1M'] });
    const brief = track(corral.url, 1, { transports: ['websocket'], reconnectionDelay: 100, randomizationFactor: 0 });
    const gone = track(corral.url, 2, { transports: ['websocket'], reconnectionDelay: 8000, reconnectionDelayMax: 10_000, randomizationFactor: 0 });
    t.after(() => [brief, gone].forEach((c) => c.socket.disconnect()));
    const bulk = new Map<Tracked, number[]>([[brief, []], [gone, []]]);
    for (const [c, got] of bulk) c.socket.on('bulk', (n: number) => got.push(n));
    await waitFor(() => brief.ids.length === 1 && gone.ids.length === 1, 10_000, 'clients to connect');
    await exchange(`${corral.url}/flood?rate=1000&ms=30000&bytes=200`, { agent: false });
    await waitFor(() => bulk.get(gone)!.length > 100, 10_000, 'the flood to begin');
    gone.socket.io.engine.close();
    const readings: number[] = [];
    for (let i = 0; i < 32; i++) {
      const recovery = statusOf(corral).primary.recovery;
      assert.ok(recovery, 'status shows the recovery store');
      assert.ok(recovery.bytes <= recovery.maxBytes, `reading ${i}: ${recovery.bytes} bytes over the cap ${recovery.maxBytes}`);
      readings.push(recovery.bytes);
      if (i === 15) brief.socket.io.engine.close();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const recovery = statusOf(corral).primary.recovery!;
    assert.equal(recovery.maxBytes, 1024 * 1024);
    assert.ok(recovery.evicted > 0 && recovery.packets < 30_000, `${recovery.packets} packets kept, ${recovery.evicted} evicted`);
    assert.ok(Math.max(...readings) > 512 * 1024, `the cap was reached: ${Math.max(...readings)}`);
    await waitFor(() => brief.ids.length === 2 && gone.ids.length === 2, 15_000, 'both to reconnect');
    assert.deepEqual(brief.recovered, [true]);
    const got = bulk.get(brief)!;
    await waitFor(() => got.length >= 30_000, 15_000, 'the whole flood').catch(() => undefined);
    assert.deepEqual(got.filter((n, i) => n !== i + 1).slice(0, 3), [], `the brief one got every message in order (${got.length})`);
    assert.equal(got.length, 30_000);
    assert.deepEqual(gone.recovered, [false], 'its missed packets were dropped: not recovered, rather than recovered with a gap');
  });

  test('an app without connectionStateRecovery keeps the plain cluster adapter: no offsets on its events, no recovery store', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'), { workers: 2 });
    const a = connect(corral.url, { forceNew: true, transports: ['websocket'] });
    const b = connect(corral.url, { forceNew: true, transports: ['polling'] });
    t.after(() => [a, b].forEach((s) => s.disconnect()));
    const args: unknown[][] = [];
    b.on('news', (...received: unknown[]) => args.push(received));
    await waitFor(() => a.connected && b.connected, 10_000, 'clients to connect');
    await a.timeout(5000).emitWithAck('shout', 'plain');
    await waitFor(() => args.length === 1, 5000, 'the broadcast');
    assert.equal(args[0]!.length, 1, `the event carries its own argument only: ${JSON.stringify(args[0])}`);
    assert.equal(statusOf(corral).primary.recovery, undefined);
  });
});

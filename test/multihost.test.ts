import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { io as connect, type Socket } from 'socket.io-client';
import { parseSid } from '../src/protocol/sid';
import { CLI, fixture, ROOT, startCorral, statusOf, waitFor, type Running } from './helpers/corral';
import { startHaproxy, startNginx, type RunningBalancer } from './helpers/balancers';
import { runSessions, type LoadResult } from './helpers/clients';
import { exchange } from './helpers/engine';
import { freeCommonPort, freePort, freePortRun } from './helpers/ports';
import { startRedis, type TestRedis } from './helpers/redis';

/** Two "machines": one corral on each loopback address, same port, same app, one Redis. */
export const HOSTS = ['127.0.1.1', '127.0.1.2'] as const;

export async function startHosts(redis: TestRedis, adapter: string, extra: string[] = [], port?: number): Promise<[Running, Running]> {
  const shared = port ?? (await freeCommonPort(HOSTS));
  const one = (host: string, id: string): Promise<Running> =>
    startCorral('suite', fixture('echo-io.js'), { host, port: shared, args: ['--host-id', id, '--adapter', adapter, '--redis', redis.url, ...extra] });
  return Promise.all([one(HOSTS[0], 'h1'), one(HOSTS[1], 'h2')]);
}

/** A connected Socket.IO client, and every `news` payload it got. */
export async function client(url: string, transports: string[] = ['polling', 'websocket']): Promise<{ socket: Socket; news: unknown[] }> {
  const socket = connect(url, { forceNew: true, reconnection: false, transports, timeout: 10_000 });
  const news: unknown[] = [];
  socket.on('news', (m: { data: unknown }) => news.push(m.data));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, news };
}

function hostOf(socket: Socket): string | undefined {
  return parseSid(socket.io.engine.id ?? '')?.host;
}

for (const adapter of ['redis-streams', 'redis'] as const) {
  describe(`two hosts with --adapter ${adapter}`, () => {
    let redis: TestRedis;
    let h1: Running;
    let h2: Running;
    const clients: Socket[] = [];
    before(async () => {
      redis = await startRedis('suite');
      [h1, h2] = await startHosts(redis, adapter);
    });
    after(async () => {
      for (const c of clients) c.disconnect();
      await Promise.all([h1?.stop(), h2?.stop()]);
      await redis?.stop();
    });

    test('sessions carry their host id, and a sid of host 1 sent to host 2 gets Engine.IO\'s "Session ID unknown"', async () => {
      const a = await client(h1.url, ['polling']);
      clients.push(a.socket);
      assert.equal(hostOf(a.socket), 'h1');
      const sid = a.socket.io.engine.id!;
      const r = await exchange(`${h2.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { agent: false });
      assert.equal(r.status, 400);
      assert.match(r.body, /Session ID unknown/);
    });

    // Once is enough: it is about the control sockets, not the adapter.
    if (adapter === 'redis-streams') test('two corrals on one port are told apart by address: status -p alone asks which, -H picks one', () => {
      const ask = (...args: string[]) => spawnSync(process.execPath, [CLI, 'status', '-p', String(h1.port), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      const both = ask();
      assert.equal(both.status, 2, both.stdout + both.stderr);
      assert.match(both.stderr, /several corrals serve port \d+ \(on 127\.0\.1\.1, 127\.0\.1\.2\): pick one with --host/);
      for (const [address, id] of [['127.0.1.1', 'h1'], ['127.0.1.2', 'h2']] as const) {
        const one = ask('-H', address);
        assert.equal(one.status, 0, one.stderr);
        assert.match(one.stdout, new RegExp(`${address.replace(/\./g, '\\.')}:\\d+, host id ${id}`));
      }
    });

    test('a broadcast from a client on host 1 reaches every client on both hosts, once', async () => {
      const all: { socket: Socket; news: unknown[] }[] = [];
      for (let i = 0; i < 16; i++) all.push(await client(i % 2 === 0 ? h1.url : h2.url, i % 4 < 2 ? ['polling'] : ['websocket']));
      clients.push(...all.map((c) => c.socket));
      const pids = new Set(await Promise.all(all.map(async (c) => ((await c.socket.timeout(5000).emitWithAck('echo', 0)) as { pid: number }).pid)));
      assert.equal(pids.size, 4, `clients should live on all four workers, got ${pids.size}`);
      await all[0]!.socket.timeout(5000).emitWithAck('shout', 'to everyone');
      await waitFor(() => all.every((c) => c.news.includes('to everyone')), 10_000, 'every client on both hosts to get the broadcast');
      await new Promise((r) => setTimeout(r, 200));
      for (const c of all) assert.equal(c.news.filter((n) => n === 'to everyone').length, 1);
    });

    test('a room joined on one host is reached by an emit from the other, and fetchSockets() sees both hosts', async () => {
      const member = await client(h2.url);
      const outsider = await client(h2.url);
      const sender = await client(h1.url);
      clients.push(member.socket, outsider.socket, sender.socket);
      assert.equal(await member.socket.timeout(5000).emitWithAck('join', 'lobby'), true);
      assert.equal(await sender.socket.timeout(5000).emitWithAck('tell', { room: 'lobby', data: 'room news' }), true);
      await waitFor(() => member.news.includes('room news'), 10_000, 'the room member on host 2 to get the emit from host 1');
      assert.ok(!outsider.news.includes('room news'), 'a client outside the room got it');
      const connected = clients.filter((c) => c.connected).length;
      assert.equal(await sender.socket.timeout(10_000).emitWithAck('count'), connected);
    });

    test('Redis killed: clients stay connected and acks work; restarted on its port: cross-host broadcasts resume, no worker restarted', async () => {
      const before = [statusOf(h1), statusOf(h2)];
      const a = await client(h1.url, ['polling']);
      const b = await client(h2.url, ['websocket']);
      clients.push(a.socket, b.socket);
      let disconnects = 0;
      for (const c of [a.socket, b.socket]) c.on('disconnect', () => disconnects++);
      await redis.kill();
      await h1.waitForOutput(/lost Redis at redis:\/\/127\.0\.0\.1:\d+/, 10_000);
      for (let i = 0; i < 10; i++) {
        for (const c of [a.socket, b.socket]) assert.equal(((await c.timeout(5000).emitWithAck('echo', i)) as { data: number }).data, i);
      }
      // Same-worker emits keep working while Redis is away.
      await a.socket.timeout(5000).emitWithAck('join', 'solo-a');
      await a.socket.timeout(5000).emitWithAck('tell', { room: 'solo-a', data: 'local while down' });
      await waitFor(() => a.news.includes('local while down'), 5000, 'a same-worker emit while Redis is down');
      await redis.restart();
      const deadline = Date.now() + 10_000;
      for (let n = 0; !b.news.some((m) => typeof m === 'string' && m.startsWith('after restart')); n++) {
        assert.ok(Date.now() < deadline, `no cross-host broadcast within 10 s of Redis coming back:\n${h1.output().slice(-2000)}`);
        await a.socket.timeout(5000).emitWithAck('shout', `after restart ${n}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(disconnects, 0, 'a client was disconnected');
      const afterwards = [statusOf(h1), statusOf(h2)];
      for (let h = 0; h < 2; h++) {
        assert.deepEqual(afterwards[h]!.workers.map((w) => [w.slot, w.pid, w.restarts]), before[h]!.workers.map((w) => [w.slot, w.pid, w.restarts]), 'a worker restarted');
      }
      // Told once per worker, not once per reconnect attempt.
      for (const h of [h1, h2]) assert.equal(h.output().match(/lost Redis at/g)?.length, 2, h.output());
    });
  });
}

/** `corral lb-config ...`, as a user runs it. */
function lbConfig(kind: 'nginx' | 'haproxy', port: number, listen: number, extra: string[] = []): string {
  const r = spawnSync(process.execPath, [CLI, 'lb-config', kind, '--hosts', `h1=${HOSTS[0]}:${port},h2=${HOSTS[1]}:${port}`, '--listen', `127.0.0.1:${listen}`, ...extra], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function assertAllStuck(r: LoadResult, count: number, roundTrips: number, workers: number): void {
  assert.deepEqual(r.errors.slice(0, 5), [], `${r.failed} sessions failed`);
  assert.equal(r.sessionUnknown, 0, '"Session ID unknown"');
  assert.equal(r.connected, count);
  assert.equal(r.acks, count * roundTrips);
  assert.equal(r.switched, 0, 'a session was answered by two workers');
  assert.equal(r.perPid.size, workers, `sessions on ${r.perPid.size} workers, not all ${workers}: ${[...r.perPid.values()]}`);
}

/** Requests workers passed to other workers, summed over both hosts (keep-alive connections carrying another's session). */
function forwarded(hosts: readonly Running[]): number {
  return hosts.flatMap((h) => statusOf(h).workers as { forwarded?: number }[]).reduce((n, w) => n + (w.forwarded ?? 0), 0);
}

/** Established TCP connections to these ports on the hosts' addresses, as `ss` lists them. */
function connectionsTo(ports: readonly number[]): number {
  const r = spawnSync('ss', ['-Htn', 'state', 'established'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `ss failed: ${r.stderr}`);
  const wanted = new Set(HOSTS.flatMap((h) => ports.map((p) => `${h}:${p}`)));
  // Columns: Recv-Q Send-Q Local Peer; a connection *to* a port has it as its peer on the client side.
  return r.stdout.split('\n').filter((line) => wanted.has(line.trim().split(/\s+/)[3] ?? '')).length;
}

describe('two hosts behind a real front balancer, routed by the host in the sid', () => {
  let redis: TestRedis;
  let hosts: [Running, Running];
  let nginx: RunningBalancer;
  let haproxy: RunningBalancer;
  before(async () => {
    redis = await startRedis('suite');
    hosts = await startHosts(redis, 'redis-streams');
    nginx = await startNginx('suite', lbConfig('nginx', hosts[0].port, await freePort()));
    // The same corrals serve nginx, which cannot send PROXY headers: plain HTTP from HAProxy too.
    haproxy = await startHaproxy('suite', lbConfig('haproxy', hosts[0].port, await freePort(), ['--no-proxy-protocol']));
  });
  after(async () => {
    await Promise.all([nginx?.stop(), haproxy?.stop()]);
    await Promise.all(hosts?.map((h) => h.stop()) ?? []);
    await redis?.stop();
  });

  test('200 polling-only clients through nginx, 20 acks each: no "Session ID unknown", all four workers used', async () => {
    const r = await runSessions(`http://127.0.0.1:${nginx.port}`, 200, 20, { transports: ['polling'] }, 50);
    assertAllStuck(r, 200, 20, 4);
  });

  test('200 polling-only clients through HAProxy, 20 acks each: no "Session ID unknown", all four workers used', async () => {
    const r = await runSessions(`http://127.0.0.1:${haproxy.port}`, 200, 20, { transports: ['polling'] }, 50);
    assertAllStuck(r, 200, 20, 4);
  });

  test('200 clients with default transports through nginx upgrade to WebSocket and keep their sessions', async () => {
    const r = await runSessions(`http://127.0.0.1:${nginx.port}`, 200, 20, {}, 50);
    assertAllStuck(r, 200, 20, 4);
  });

  test('a broadcast from a client behind nginx reaches clients of both hosts', async () => {
    const all: { socket: Socket; news: unknown[] }[] = [];
    try {
      for (let i = 0; i < 12; i++) all.push(await client(`http://127.0.0.1:${nginx.port}`));
      assert.deepEqual(new Set(all.map((c) => hostOf(c.socket))), new Set(['h1', 'h2']));
      await all[0]!.socket.timeout(5000).emitWithAck('shout', 'through nginx');
      await waitFor(() => all.every((c) => c.news.includes('through nginx')), 10_000, 'every client to get the broadcast');
    } finally {
      for (const c of all) c.socket.disconnect();
    }
  });
});

describe('two hosts with --slot-ports behind nginx', () => {
  let redis: TestRedis;
  let hosts: [Running, Running];
  let nginx: RunningBalancer;
  let base: number;
  before(async () => {
    redis = await startRedis('suite');
    base = await freePortRun(2, HOSTS);
    hosts = await startHosts(redis, 'redis-streams', ['--slot-ports', String(base)]);
    nginx = await startNginx('suite', lbConfig('nginx', hosts[0].port, await freePort(), ['--slot-ports', String(base), '--workers', '2']));
  });
  after(async () => {
    await nginx?.stop();
    await Promise.all(hosts?.map((h) => h.stop()) ?? []);
    await redis?.stop();
  });

  test('200 polling clients keep their sessions; nginx talks to the slot ports only and no request is forwarded between workers', async () => {
    const forwardedBefore = forwarded(hosts);
    let slotConnections = 0;
    let publicConnections = 0;
    let running = true;
    // Sample while the load runs: nginx's idle upstream connections close 4 s after it.
    const sampler = (async () => {
      while (running) {
        slotConnections = Math.max(slotConnections, connectionsTo([base, base + 1]));
        publicConnections = Math.max(publicConnections, connectionsTo([hosts[0].port]));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const r = await runSessions(`http://127.0.0.1:${nginx.port}`, 200, 20, { transports: ['polling'] }, 50);
    running = false;
    await sampler;
    assertAllStuck(r, 200, 20, 4);
    assert.ok(slotConnections > 0, 'nginx held no connection to a slot port');
    assert.equal(publicConnections, 0, 'nginx connected to a public port');
    assert.equal(forwarded(hosts) - forwardedBefore, 0, 'requests were forwarded between workers');
  });
});

test('Redis not running at start: corral exits 1 with a message naming the URL, leaving nothing bound', async () => {
  const redisPort = await freePort();
  const port = await freePort();
  const r = spawnSync(process.execPath, [CLI, 'start', fixture('echo-io.js'), '-w', '1', '-H', '127.0.0.1', '-p', String(port), '--redis', `redis://127.0.0.1:${redisPort}`], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${redisPort}.*ECONNREFUSED.*--adapter cluster.*\\[ERR_CORRAL_REDIS_UNREACHABLE\\]`));
  assert.doesNotMatch(r.stdout, /listening on|ready: serving/);
});

import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { io as connectClient, type Socket } from 'socket.io-client';
import { resolveConfig } from '../src/options';
import { fixture, startCorral, statusOf, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

const APP = fixture('visitor-app.js');

/** A browser's cookie jar, as small as these tests need: name -> value, from `Set-Cookie`. */
class Jar {
  readonly cookies = new Map<string, string>();

  take(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }

  header(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }
}

/** GET `path` on a fresh connection (no keep-alive, as engine.io-client's default agent does). */
async function fresh(url: string, path: string, headers: Record<string, string> = {}): Promise<{ body: Record<string, unknown>; setCookie: string[] | undefined; status: number }> {
  const answer = await exchange(`${url}${path}`, { agent: false, headers });
  return { body: answer.status === 200 ? (JSON.parse(answer.body) as Record<string, unknown>) : {}, setCookie: answer.headers['set-cookie'], status: answer.status };
}

describe('--sticky cookie', () => {
  test('50 visitors with express-session (MemoryStore), 10 requests each on fresh connections: every visitor counts 1..10, both workers used', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'cookie' });
    const slots = new Set<unknown>();
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async (_, v) => {
        const jar = new Jar();
        for (let i = 1; i <= 10; i++) {
          const { body, setCookie } = await fresh(corral.url, '/count', jar.header());
          jar.take(setCookie);
          if (body['count'] !== i) failures.push(`visitor ${v} request ${i}: count ${String(body['count'])} on slot ${String(body['slot'])}`);
          slots.add(body['slot']);
        }
        assert.ok(jar.cookies.has(`corral_${corral.port}`), 'corral set its cookie');
        assert.ok(jar.cookies.has('connect.sid'), "the app's own cookie survived");
      }),
    );
    assert.deepEqual(failures, []);
    assert.deepEqual([...slots].sort(), [0, 1]);
  });

  test('the cookie is small, HttpOnly, SameSite=Lax, Path=/, and sits beside the app\'s own cookies', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'cookie' });
    const own = await fresh(corral.url, '/own-cookie');
    const ours = own.setCookie!.find((c) => c.startsWith(`corral_${corral.port}=`))!;
    assert.match(ours, /^corral_\d+=[0-9a-z]{1,3}\.[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.ok(own.setCookie!.some((c) => c.startsWith('mine=kept')), 'res.cookie() survived');
    assert.ok(own.setCookie!.some((c) => c.startsWith('connect.sid=')), 'express-session survived');
    // Headers handed to writeHead itself, with a Set-Cookie among them.
    const raw = await exchange(`${corral.url}/raw-cookie`, { agent: false });
    assert.ok(raw.headers['set-cookie']!.includes('raw=1'));
    assert.ok(raw.headers['set-cookie']!.some((c) => c.startsWith(`corral_${corral.port}=`)));
    // A visitor who has the cookie is not sent it again.
    const jar = new Jar();
    jar.take(own.setCookie);
    const again = await fresh(corral.url, '/count', jar.header());
    assert.ok(!(again.setCookie ?? []).some((c) => c.startsWith('corral_')));
  });

  test('a forged cookie never routes to a slot that does not exist, and is replaced by a real one', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'cookie' });
    const name = `corral_${corral.port}`;
    const real = (await fresh(corral.url, '/own-cookie')).setCookie!.find((c) => c.startsWith(`${name}=`))!.split(';')[0]!.slice(name.length + 1);
    const mac = real.slice(real.indexOf('.') + 1);
    const forged = [`5.${mac}`, `zz.${mac}`, '0.AAAAAAAAAAAAAAAA', '1', '', '-1.x', `0.${mac}x`, `${'9'.repeat(400)}.${mac}`, '0.%00%ff', 'a'.repeat(4000)];
    for (const value of forged) {
      const { body, setCookie, status } = await fresh(corral.url, '/whoami', { cookie: `${name}=${value}` });
      assert.equal(status, 200, value);
      assert.ok([0, 1].includes(body['slot'] as number), `${value}: slot ${String(body['slot'])}`);
      const issued = setCookie?.find((c) => c.startsWith(`${name}=`));
      assert.ok(issued !== undefined, `${value}: a real cookie is issued`);
      assert.match(issued, new RegExp(`^${name}=${String(body['slot'])}\\.`), 'naming the worker that served it');
    }
  });

  test('one keep-alive connection carrying two visitors: each request reaches its own visitor\'s worker', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'cookie' });
    // Two visitors on different workers, each with its cookie jar.
    const jars: Jar[] = [];
    const homes: unknown[] = [];
    while (jars.length < 2) {
      const jar = new Jar();
      const { body, setCookie } = await fresh(corral.url, '/count', jar.header());
      jar.take(setCookie);
      if (!homes.includes(body['slot'])) {
        jars.push(jar);
        homes.push(body['slot']);
      }
      assert.ok(homes.length + 10 > jars.length, 'bounded');
    }
    // A balancer's pooled connection: one socket, requests of both visitors in turn.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const sockets = new Set<unknown>();
    for (let i = 2; i <= 6; i++) {
      for (const [v, jar] of jars.entries()) {
        const answer = await exchange(`${corral.url}/count`, { agent, headers: jar.header() });
        sockets.add(answer.socket);
        const body = JSON.parse(answer.body) as { count: number; slot: number };
        assert.deepEqual(body, { count: i, slot: homes[v] }, `visitor ${v} request ${i}`);
      }
    }
    assert.equal(sockets.size, 1, 'every request rode one connection');
  });
});

describe('--sticky query:NAME and header:NAME', () => {
  for (const mode of ['query', 'header'] as const) {
    test(`${mode}: 30 keys x 10 requests on fresh connections: each key on one worker, both workers used`, async (t) => {
      const corral = await startCorral(t, APP, { sticky: mode === 'query' ? 'query:room' : 'header:X-Tenant' });
      const homes = new Map<string, Set<unknown>>();
      await Promise.all(
        Array.from({ length: 30 }, async (_, k) => {
          const key = `key-${k}`;
          const seen = new Set<unknown>();
          homes.set(key, seen);
          for (let i = 0; i < 10; i++) {
            const { body } = mode === 'query' ? await fresh(corral.url, `/whoami?room=${key}`) : await fresh(corral.url, '/whoami', { 'x-tenant': key });
            assert.equal(body['key'], key);
            seen.add(body['slot']);
          }
        }),
      );
      for (const [key, seen] of homes) assert.equal(seen.size, 1, `${key} went to ${[...seen].join(', ')}`);
      const used = new Set([...homes.values()].map((s) => [...s][0]));
      assert.deepEqual([...used].sort(), [0, 1]);
      // Requests without the key go least-loaded: both workers, once the keyed connections'
      // closes are reported (a worker still counting them would rightly get none).
      await waitFor(() => statusOf(corral).workers.every((w) => w.connections === 0), 10_000, 'both workers to report no connections');
      const keyless = new Set<unknown>();
      for (let i = 0; i < 10; i++) keyless.add((await fresh(corral.url, '/whoami')).body['slot']);
      assert.equal(keyless.size, 2);
    });
  }

  test('query:room with Socket.IO: each room\'s clients (polling and WebSocket) on one worker', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'query:room' });
    const clients: Socket[] = [];
    t.after(() => clients.forEach((c) => c.close()));
    const hellos = await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const room = `room-${i % 10}`;
        const transports = i % 2 === 0 ? ['polling'] : ['polling', 'websocket'];
        const client = connectClient(corral.url, { query: { room }, transports, reconnection: false, timeout: 10_000 });
        clients.push(client);
        return new Promise<{ slot: number; room: string }>((resolve, reject) => {
          client.once('hello', resolve);
          client.once('connect_error', reject);
        });
      }),
    );
    const byRoom = new Map<string, Set<number>>();
    for (const hello of hellos) {
      if (!byRoom.has(hello.room)) byRoom.set(hello.room, new Set());
      byRoom.get(hello.room)!.add(hello.slot);
    }
    assert.equal(byRoom.size, 10);
    for (const [room, slots] of byRoom) assert.equal(slots.size, 1, `${room} on ${[...slots].join(', ')}`);
    assert.equal(new Set(hellos.map((h) => h.slot)).size, 2, 'both workers hold rooms');
    // Every later request of each session (polls, upgrades) still meets its session.
    const answers = await Promise.all(clients.map((c) => c.timeout(5000).emitWithAck('whoami') as Promise<{ slot: number }>));
    answers.forEach((a, i) => assert.equal(a.slot, hellos[i]!.slot));
  });

  test('bad --sticky values are named with what to write', () => {
    for (const [value, hint] of [
      ['query:', /query:NAME/],
      ['header:', /header:NAME/],
      ['header:bad name', /header:NAME/],
      ['query:a&b', /query:NAME/],
      ['cookies', /one of "sid", "ip", "cookie", "query:NAME", "header:NAME", "none"/],
      ['', /one of/],
    ] as const) {
      assert.throws(() => resolveConfig({ app: APP, sticky: value }), (err: Error & { code?: string }) => err.code === 'ERR_CORRAL_BAD_OPTION' && hint.test(err.message) && err.message.includes('--sticky'), value);
    }
    assert.equal(resolveConfig({ app: APP, sticky: 'header:X-Tenant' }).stickyKey, 'x-tenant');
  });
});

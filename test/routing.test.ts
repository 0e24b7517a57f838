import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateSid, normalizeEnginePath, parseSid, sidOfTarget, slotOfSid } from '../src/protocol/sid';
import { CookieRouter, EngineSessions, IpRouter, KeyRouter, NoneRouter, SidRouter, SlotCookies, TrustList } from '../src/routing';
import { targetOfLine } from '../src/routing/sid';
import { LeastLoaded } from '../src/primary/least-loaded';
import type { Candidate, RoutedRequest, Router } from '../src/routing';

const PATHS = ['/socket.io/'];
const HOST = 'h1';
const HERE = 'h1.';
/** What the primary sees of a connection whose request line (if any) it read. */
function request(line: string | undefined, remoteAddress = ''): RoutedRequest {
  return { remoteAddress, url: targetOfLine(line), header: () => undefined };
}

/** The dispatcher's choice: the router's, else the least-loaded. */
function picker(router: Router): (line: string | undefined, candidates: readonly Candidate[], remoteAddress?: string) => number {
  const leastLoaded = new LeastLoaded();
  return (line, candidates, remoteAddress = '') => {
    const slot = router.route(request(line, remoteAddress), candidates);
    return slot >= 0 ? slot : leastLoaded.pick(candidates);
  };
}

function slotOfRequestLine(line: string | undefined, paths: readonly string[], hostPrefix: string): number {
  return new EngineSessions(hostPrefix.slice(0, -1), paths).slotOf(targetOfLine(line));
}

const two: Candidate[] = [
  { slot: 0, load: 0 },
  { slot: 1, load: 0 },
];

describe('session ids', () => {
  test('a generated sid names its host and slot, is URL-safe and unique', () => {
    const seen = new Set<string>();
    for (const host of ['h1', 'web-01', 'a'.repeat(63)]) {
      for (const slot of [0, 1, 35, 36, 1023]) {
        for (let i = 0; i < 100; i++) {
          const sid = generateSid(host, slot);
          assert.match(sid, /^[a-z0-9-]+\.[0-9a-z]+\.[A-Za-z0-9_-]{20}$/);
          assert.equal(encodeURIComponent(sid), sid);
          assert.equal(slotOfSid(sid, `${host}.`), slot);
          assert.deepEqual(parseSid(sid), { host, slot });
          assert.ok(!seen.has(sid));
          seen.add(sid);
        }
      }
    }
  });

  test('a sid of another host names no slot here, even when one host id begins the other', () => {
    assert.equal(slotOfSid(generateSid('h2', 1), HERE), -1);
    assert.equal(slotOfSid(generateSid('h10', 1), HERE), -1);
    assert.equal(slotOfSid(generateSid('h', 1), HERE), -1);
    assert.equal(slotOfSid(generateSid('h1', 1), HERE), 1);
  });

  test('a sid without a host and slot prefix names no slot', () => {
    for (const sid of ['', 'abc', '.abc', 'h1.', 'h1..x', 'h1.A.abc', 'h1.-1.x', 'h1.1234567.x', 'h1.1', 'h1.1.', 'h1.x y.z', '1.abc', 'ABCDEFGHIJKLMNOPQRST', 'H1.1.abc']) {
      assert.equal(slotOfSid(sid, HERE), -1, sid);
    }
    for (const sid of ['', 'abc', '.1.x', 'H1.1.x', '-a.1.x', 'h1.z z.x', 'h1.1']) assert.equal(parseSid(sid), undefined, sid);
  });

  test('sid is read only on an Engine.IO path, from the query string', () => {
    assert.equal(sidOfTarget('/socket.io/?EIO=4&transport=polling&sid=1.abc', PATHS), '1.abc');
    assert.equal(sidOfTarget('/socket.io/?sid=0.x&EIO=4', PATHS), '0.x');
    assert.equal(sidOfTarget('/socket.io/?EIO=4&transport=polling', PATHS), undefined);
    assert.equal(sidOfTarget('/other/?sid=1.abc', PATHS), undefined);
    assert.equal(sidOfTarget('/socket.io/?xsid=1.abc', PATHS), undefined);
    assert.equal(sidOfTarget('/socket.io/?sid=', PATHS), undefined);
    assert.equal(sidOfTarget('/custom/?sid=2.q', [normalizeEnginePath('/custom')]), '2.q');
  });

  test('the request line gives the slot; anything malformed or of another host gives -1', () => {
    assert.equal(slotOfRequestLine('GET /socket.io/?EIO=4&transport=polling&sid=h1.1.abc HTTP/1.1', PATHS, HERE), 1);
    assert.equal(slotOfRequestLine('POST /socket.io/?EIO=4&sid=h1.a.abc HTTP/1.1', PATHS, HERE), 10);
    assert.equal(slotOfRequestLine('POST /socket.io/?EIO=4&sid=h2.a.abc HTTP/1.1', PATHS, HERE), -1);
    assert.equal(slotOfRequestLine('GET /socket.io/?EIO=4 HTTP/1.1', PATHS, HERE), -1);
    assert.equal(slotOfRequestLine('garbage', PATHS, HERE), -1);
    assert.equal(slotOfRequestLine('\u0016\u0003\u0001', PATHS, HERE), -1);
    assert.equal(slotOfRequestLine(undefined, PATHS, HERE), -1);
  });
});

describe('sid router', () => {
  test('a request with a live slot goes to that slot, whatever the loads', () => {
    const router = new SidRouter(new EngineSessions(HOST, PATHS));
    const pick = picker(router);
    const line = `GET /socket.io/?EIO=4&transport=polling&sid=${generateSid(HOST, 1)} HTTP/1.1`;
    const loaded: Candidate[] = [
      { slot: 0, load: 0 },
      { slot: 1, load: 1000 },
    ];
    for (let i = 0; i < 10; i++) assert.equal(pick(line, loaded), 1);
  });

  test('handshakes and sids of dead slots go least-loaded, alternating on ties', () => {
    const router = new SidRouter(new EngineSessions(HOST, PATHS));
    const pick = picker(router);
    const picks = [0, 1, 2, 3].map(() => pick('GET /socket.io/?EIO=4&transport=polling HTTP/1.1', two));
    assert.deepEqual(picks.sort(), [0, 0, 1, 1]);
    const forged = `GET /socket.io/?EIO=4&sid=${generateSid(HOST, 7)} HTTP/1.1`;
    const loads: Candidate[] = [
      { slot: 0, load: 5 },
      { slot: 1, load: 2 },
    ];
    assert.equal(pick(forged, loads), 1);
    const otherHost = `GET /socket.io/?EIO=4&sid=${generateSid('h2', 0)} HTTP/1.1`;
    assert.equal(pick(otherHost, loads), 1);
  });

  test('paths announced later are honoured', () => {
    const sessions = new EngineSessions(HOST, PATHS);
    const pick = picker(new SidRouter(sessions));
    const line = `GET /rt/?EIO=4&sid=${generateSid(HOST, 1)} HTTP/1.1`;
    const loads: Candidate[] = [
      { slot: 0, load: 0 },
      { slot: 1, load: 9 },
    ];
    assert.equal(pick(line, loads), 0);
    sessions.addPath('/rt/');
    assert.equal(pick(line, loads), 1);
  });
});

describe('ip router', () => {
  const slots = (n: number): Candidate[] => Array.from({ length: n }, (_, slot) => ({ slot, load: 0 }));
  const addresses = Array.from({ length: 2000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);

  test('one address always gets the same slot', () => {
    const pick = picker(new IpRouter());
    for (const a of addresses.slice(0, 50)) {
      const first = pick(undefined, slots(4), a);
      for (let i = 0; i < 5; i++) assert.equal(pick(undefined, slots(4), a), first);
    }
  });

  test('addresses spread evenly over the slots', () => {
    const pick = picker(new IpRouter());
    const counts = new Map<number, number>();
    for (const a of addresses) {
      const s = pick(undefined, slots(4), a);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    assert.equal(counts.size, 4);
    for (const c of counts.values()) assert.ok(c > 400 && c < 600, `uneven spread: ${[...counts.values()]}`);
  });

  test('a slot leaving moves only its own clients, and they come back when it returns', () => {
    const pick = picker(new IpRouter());
    const all = slots(4);
    const without2 = all.filter((c) => c.slot !== 2);
    for (const a of addresses) {
      const before = pick(undefined, all, a);
      const during = pick(undefined, without2, a);
      if (before !== 2) assert.equal(during, before);
      assert.equal(pick(undefined, all, a), before);
    }
  });
});

describe('none router', () => {
  test('picks the least-loaded slot', () => {
    const pick = picker(new NoneRouter());
    const loads: Candidate[] = [
      { slot: 0, load: 3 },
      { slot: 1, load: 1 },
      { slot: 2, load: 2 },
    ];
    assert.equal(pick(undefined, loads), 1);
  });
});

describe('cookie, key and proxied-ip routers', () => {
  const sessions = new EngineSessions(HOST, PATHS);
  const live: Candidate[] = [
    { slot: 0, load: 0 },
    { slot: 1, load: 0 },
  ];
  const withHeaders = (url: string, headers: Record<string, string>, remoteAddress = ''): RoutedRequest => ({ remoteAddress, url, header: (n) => headers[n] });

  test('cookie: a live slot named by a valid cookie, a valid sid first, else anyone', () => {
    const cookies = new SlotCookies(HOST, 'c'.repeat(64), 3000);
    const router = new CookieRouter(sessions, cookies);
    const cookie = (slot: number): Record<string, string> => ({ cookie: `a=1; corral_3000=${cookies.valueFor(slot)}` });
    assert.equal(router.route(withHeaders('/cart', cookie(1)), live), 1);
    assert.equal(router.route(withHeaders('/cart', cookie(7)), live), -1, 'a slot that is not live');
    assert.equal(router.route(withHeaders('/cart', {}), live), -1);
    assert.equal(router.route(withHeaders(`/socket.io/?EIO=4&sid=${generateSid(HOST, 0)}`, cookie(1)), live), 0, 'the sid wins');
    assert.equal(router.namedSlot(withHeaders('/cart', cookie(7))), 7);
  });

  test('query and header keys: one slot per key, moved only when its slot leaves; a valid sid first', () => {
    for (const router of [new KeyRouter('query', 'room', sessions), new KeyRouter('header', 'x-tenant', sessions)]) {
      const request = (key: string | undefined, sid?: string): RoutedRequest => {
        const query = [key === undefined || router.name !== 'query' ? '' : `room=${key}`, sid === undefined ? '' : `sid=${sid}`].filter((p) => p !== '').join('&');
        return withHeaders(`/socket.io/?${query}`, key === undefined || router.name !== 'header' ? {} : { 'x-tenant': key });
      };
      const four = slots4();
      const without3 = four.filter((c) => c.slot !== 3);
      const spread = new Set<number>();
      for (let k = 0; k < 200; k++) {
        const slot = router.route(request(`k${k}`), four);
        spread.add(slot);
        assert.equal(router.route(request(`k${k}`), four), slot);
        if (slot !== 3) assert.equal(router.route(request(`k${k}`), without3), slot);
      }
      assert.equal(spread.size, 4);
      assert.equal(router.route(request(undefined), four), -1);
      assert.equal(router.route(request('k1', generateSid(HOST, 2)), four), 2);
    }
  });

  test('ip behind a trusted proxy: the forwarded client, a valid sid first', () => {
    const router = new IpRouter(new TrustList(['127.0.0.1/32']), sessions);
    const via = (client: string, url = '/'): RoutedRequest => withHeaders(url, { 'x-forwarded-for': client }, '127.0.0.1');
    const picks = new Set<number>();
    for (let i = 1; i < 50; i++) {
      const slot = router.route(via(`203.0.113.${i}`), live);
      picks.add(slot);
      assert.equal(router.route(via(`198.51.100.7, 203.0.113.${i}`), live), slot, 'the right-most untrusted entry');
    }
    assert.equal(picks.size, 2);
    const untrusted = (client: string): RoutedRequest => withHeaders('/', { 'x-forwarded-for': client }, '127.0.0.9');
    assert.equal(new Set(Array.from({ length: 20 }, (_, i) => router.route(untrusted(`203.0.113.${i}`), live))).size, 1);
    assert.equal(router.route(via('203.0.113.1', `/socket.io/?EIO=4&sid=${generateSid(HOST, 1)}`), live), 1);
    assert.equal(router.route(via('203.0.113.2', `/socket.io/?EIO=4&sid=${generateSid(HOST, 0)}`), live), 0);
    assert.equal(router.perRequest, true);
    assert.equal(new IpRouter().perRequest, false, 'without a trusted proxy the address is the connection\'s');
  });
});

function slots4(): Candidate[] {
  return [0, 1, 2, 3].map((slot) => ({ slot, load: 0 }));
}

describe('least-loaded choice during a rolling reload', () => {
  test('a worker about to be replaced gets new sessions only when no other can take them', () => {
    const leastLoaded = new LeastLoaded();
    const fresh: Candidate = { slot: 0, load: 50 };
    const old: Candidate = { slot: 1, load: 0, outgoing: true };
    for (let i = 0; i < 10; i++) assert.equal(leastLoaded.pick([fresh, old]), 0);
    assert.equal(leastLoaded.pick([old]), 1);
    const picks = new Set(Array.from({ length: 4 }, () => leastLoaded.pick([{ slot: 0, load: 3 }, { slot: 1, load: 3 }])));
    assert.deepEqual([...picks].sort(), [0, 1], 'ties still alternate');
  });
});

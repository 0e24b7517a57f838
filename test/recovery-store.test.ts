import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PacketLog } from '../src/recovery/packet-log';
import { RecoveryStore } from '../src/recovery/store';

const ROOMS = ['a', 'b', 'c', 'd'];

/** socket.io-adapter's SessionAwareAdapter rule over a full, never trimmed log: the reference. */
function reference(log: { data: unknown[]; rooms: string[]; except: string[] }[], after: number, rooms: readonly string[]): unknown[][] {
  return log
    .slice(after)
    .filter((p) => (p.rooms.length === 0 || p.rooms.some((r) => rooms.includes(r))) && !p.except.some((r) => rooms.includes(r)))
    .map((p) => p.data);
}

describe('the recovery packet log', () => {
  test('what a session missed is every packet after its offset for one of its rooms (or for all), none it was excepted from, in order', () => {
    const log = new PacketLog('e');
    const offsets = [log.append([1], [], [], 0), log.append([2], ['a'], [], 0), log.append([3], ['b'], [], 0), log.append([4], [], ['a'], 0), log.append([5], ['a', 'b'], [], 0)];
    assert.deepEqual(offsets, ['e:1', 'e:2', 'e:3', 'e:4', 'e:5']);
    assert.deepEqual(log.missedSince('e:1', ['a']), [[2, 'e:2'], [5, 'e:5']]);
    assert.deepEqual(log.missedSince('e:1', ['b']), [[3, 'e:3'], [4, 'e:4'], [5, 'e:5']]);
    assert.deepEqual(log.missedSince('e:5', ['a']), []);
  });

  test('an offset it never gave (another epoch, past its end, not a number) recovers nothing', () => {
    const log = new PacketLog('e');
    log.append([1], [], [], 0);
    for (const forged of ['x:1', 'e:2', 'e:0', 'e:-1', 'e:1.5', 'e:', 'e', '', 'e:1e3', `e:${'9'.repeat(20)}`]) assert.equal(log.missedSince(forged, ['a']), null, forged);
  });

  test('trimmed packets are remembered by room: a quiet session recovers unless one was for it', () => {
    const log = new PacketLog('e');
    const first = log.append(['to-a'], ['a'], [], 0);
    log.append(['to-b'], ['b'], [], 0);
    log.append(['to-c'], ['c'], [], 0);
    log.trimOldest();
    log.trimOldest();
    assert.equal(log.size, 1);
    assert.equal(log.missedSince(first, ['b']), null, 'the b packet was trimmed: unknown for a session in b');
    assert.deepEqual(log.missedSince(first, ['a']), [], 'the a packet is the offset itself: nothing after it was for a');
    assert.deepEqual(log.missedSince(first, ['c']), [['to-c', 'e:3']], 'nothing trimmed was for c');
    assert.equal(log.missedSince(first, ['b', 'c']), null);
  });

  test('property: the log never gives a wrong answer: trimmed or not, it is the full log\'s answer or null (and never null while nothing is trimmed)', () => {
    const packet = fc.record({
      rooms: fc.subarray(ROOMS, { maxLength: 2 }),
      except: fc.subarray(ROOMS, { maxLength: 1 }),
    });
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 40 }), fc.nat(40), fc.nat(40), fc.subarray(ROOMS, { minLength: 1 }), (packets, at, trims, rooms) => {
        const log = new PacketLog('p');
        const full = packets.map((p, i) => ({ data: [i] as unknown[], rooms: p.rooms, except: p.except }));
        const offsets = full.map((p) => log.append([...p.data], p.rooms, p.except, 0));
        for (const p of full) p.data.push(`p:${full.indexOf(p) + 1}`);
        const after = at % full.length;
        const expected = reference(full, after + 1, rooms);
        if (trims % 3 === 0) assert.deepEqual(log.missedSince(offsets[after]!, rooms), expected);
        for (let i = 0; i < trims % (full.length + 1); i++) log.trimOldest();
        const got = log.missedSince(offsets[after]!, rooms);
        if (got !== null) assert.deepEqual(got, expected);
      }),
      { numRuns: 500 },
    );
  });

  test('memory: trimming frees what appending took, and remembered rooms are bounded', () => {
    const log = new PacketLog('e');
    for (let i = 0; i < 1000; i++) log.append(['x'.repeat(100)], [], [], 0);
    assert.ok(log.bytes >= 1000 * 100);
    while (log.size > 0) assert.ok(log.trimOldest() > 0);
    assert.equal(log.bytes, 0);
  });
});

describe('the recovery store', () => {
  test('a persisted session is restored once, with its rooms, data and missed packets, on any worker', () => {
    const store = new RecoveryStore(1 << 20);
    store.configure('/', 60_000);
    store.opened(1, '/', 'sid1', 'pid1', ['sid1', 'shared']);
    const offset = store.append('/', ['hello'], ['shared'], []);
    store.append('/', ['missed'], ['shared'], []);
    store.append('/', ['other'], ['elsewhere'], []);
    store.persist('/', { sid: 'sid1', pid: 'pid1', rooms: ['sid1', 'shared'], data: { user: 7 } });
    const restored = store.restore('/', 'pid1', offset, 2, () => true);
    assert.ok(restored);
    assert.equal(restored.sid, 'sid1');
    assert.deepEqual(restored.data, { user: 7 });
    assert.deepEqual(restored.missedPackets.map((p) => p[0]), ['missed']);
    assert.equal(store.restore('/', 'pid1', offset, 2, () => true), null, 'a session is restored once');
    assert.equal(store.stats().open, 1, 'the restored socket is mirrored on its new worker');
  });

  test('a worker that dies without a word leaves its sockets as sessions, with the rooms mirrored and the data last handed over', () => {
    const store = new RecoveryStore(1 << 20);
    store.configure('/', 60_000);
    store.opened(1, '/', 's1', 'p1', ['s1']);
    store.joined(1, '/', 's1', ['room']);
    store.joined(2, '/', 's1', ['stale']);
    store.opened(2, '/', 's2', 'p2', ['s2']);
    const offset = store.append('/', ['n1'], ['room'], []);
    store.append('/', ['n2'], ['room'], []);
    assert.equal(store.ownerGone(1), 1);
    const restored = store.restore('/', 'p1', offset, 2, () => true);
    assert.ok(restored);
    assert.deepEqual([...restored.rooms].sort(), ['room', 's1']);
    assert.deepEqual(restored.data, {});
    assert.deepEqual(restored.missedPackets, [['n2', restored.missedPackets[0]![1]]]);
    assert.equal(store.restore('/', 'p2', offset, 1, () => true), null, 'a socket still connected to a live worker is not a session');
  });

  test('a restore that races the primary hearing of its worker\'s death still finds the session', () => {
    const store = new RecoveryStore(1 << 20);
    store.configure('/', 60_000);
    store.opened(5, '/', 's', 'p', ['s']);
    const offset = store.append('/', ['x'], [], []);
    assert.ok(store.restore('/', 'p', offset, 6, (owner) => owner !== 5));
  });

  test('a session is not restored after maxDisconnectionDuration, and expired ones are swept', () => {
    let now = 1000;
    const store = new RecoveryStore(1 << 20, () => now);
    store.configure('/', 500);
    const offset = store.append('/', ['x'], [], []);
    store.persist('/', { sid: 's', pid: 'p', rooms: ['s'], data: {} });
    store.persist('/', { sid: 's2', pid: 'p2', rooms: ['s2'], data: {} });
    now += 501;
    assert.equal(store.restore('/', 'p', offset, 1, () => true), null);
    store.sweep();
    assert.equal(store.stats().sessions, 0);
    assert.equal(store.stats().packets, 0, 'packets older than any session can ask for are trimmed');
  });

  test('memory stays under the cap: oldest packets go first, then oldest sessions', () => {
    const cap = 64 * 1024;
    const store = new RecoveryStore(cap);
    store.configure('/', 60_000);
    store.persist('/', { sid: 'keep', pid: 'keep', rooms: ['keep'], data: { v: 'y'.repeat(100) } });
    for (let i = 0; i < 5000; i++) {
      store.append('/', [i, 'x'.repeat(200)], ['shared'], []);
      assert.ok(store.stats().bytes <= cap);
    }
    const stats = store.stats();
    assert.ok(stats.packets < 5000 && stats.packets > 50, `${stats.packets} packets kept`);
    assert.equal(stats.sessions, 1, 'sessions outlive packets under pressure');
    for (let i = 0; i < 2000; i++) store.persist('/', { sid: `s${i}`, pid: `p${i}`, rooms: [`s${i}`], data: { v: 'z'.repeat(100) } });
    assert.ok(store.stats().bytes <= cap);
    assert.ok(store.stats().evicted > 0);
  });
});

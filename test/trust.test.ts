import assert from 'node:assert/strict';
import { BlockList, isIP, SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CorralError } from '../src/errors';
import { forwardedClient, parseTrustProxy, TrustList } from '../src/routing/trust';

const RUNS = { numRuns: 300 };

/** Assert that `fn` throws ERR_CORRAL_BAD_OPTION naming the flag, what is expected and each of `named`. */
function throwsBadOption(fn: () => unknown, ...named: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CorralError, `not a CorralError: ${String(err)}`);
    assert.equal(err.code, 'ERR_CORRAL_BAD_OPTION');
    assert.match(err.message, /^bad option --trust-proxy \(trustProxy\): /);
    assert.match(err.message, /; expected .*"loopback".*, got /);
    for (const text of named) assert.ok(err.message.includes(text), `${JSON.stringify(err.message)} does not name ${text}`);
    return true;
  });
}

describe('parseTrustProxy', () => {
  test('addresses and CIDRs come back normalized, in input order', () => {
    assert.deepEqual(parseTrustProxy('10.0.0.0/8, 127.0.0.1,::1/128 ,FD00::/8,2001:DB8:0:0::1'), [
      '10.0.0.0/8',
      '127.0.0.1/32',
      '::1/128',
      'fd00::/8',
      '2001:db8::1/128',
    ]);
  });

  test('host bits are accepted and cleared, so the entry names its network', () => {
    assert.deepEqual(parseTrustProxy('10.0.0.1/8,192.168.7.77/0,172.31.255.255/12'), ['10.0.0.0/8', '0.0.0.0/0', '172.16.0.0/12']);
    assert.deepEqual(parseTrustProxy('2001:db8:ffff::1/32,fdff::1/7,::1/0'), ['2001:db8::/32', 'fc00::/7', '::/0']);
  });

  test('"loopback" and "private" expand in place, in any case', () => {
    assert.deepEqual(parseTrustProxy('loopback'), ['127.0.0.0/8', '::1/128']);
    assert.deepEqual(parseTrustProxy('private'), ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
    assert.deepEqual(parseTrustProxy('203.0.113.1,Loopback'), ['203.0.113.1/32', '127.0.0.0/8', '::1/128']);
  });

  test('entries equal once normalized are kept once, where they first appear', () => {
    assert.deepEqual(parseTrustProxy('10.0.0.1/8,loopback,10.0.0.0/8,127.0.0.0/8,::1,0:0::1/128'), ['10.0.0.0/8', '127.0.0.0/8', '::1/128']);
  });

  test('an array is read like the comma list, and an element may hold several entries', () => {
    assert.deepEqual(parseTrustProxy(['10.0.0.0/8', ' loopback,fd00::/8 ']), ['10.0.0.0/8', '127.0.0.0/8', '::1/128', 'fd00::/8']);
  });

  test('IPv4-mapped entries become the IPv4 networks they are', () => {
    assert.deepEqual(parseTrustProxy('::ffff:10.0.0.0/104,::FFFF:127.0.0.1,::ffff:0:0/96'), ['10.0.0.0/8', '127.0.0.1/32', '0.0.0.0/0']);
    // Shorter than /96 it also holds non-mapped IPv6 addresses, so it stays IPv6.
    assert.deepEqual(parseTrustProxy('::ffff:0:0/80'), ['::/80']);
  });

  test('nothing given, an empty or blank string and an empty array trust no proxy', () => {
    for (const none of [undefined, '', '  ', []]) assert.deepEqual(parseTrustProxy(none), []);
  });

  test('the result is frozen', () => {
    assert.ok(Object.isFrozen(parseTrustProxy('loopback')));
  });

  test('a bad entry is named in the error, with the value it came in', () => {
    const cases: [string, string][] = [
      ['10.0.0.0/33', 'from 0 to 32'],
      ['::/129', 'from 0 to 128'],
      ['10.0.0.0/', 'prefix length ""'],
      ['10.0.0.0/-1', 'prefix length "-1"'],
      ['10.0.0.0/8/8', 'prefix length "8/8"'],
      ['10.0.0.0/ 8', 'prefix length " 8"'],
      ['10.0.0.0/0x8', 'prefix length "0x8"'],
      ['10.0.0.256', 'not an IP address'],
      ['010.0.0.1', 'not an IP address'],
      ['1.2.3', 'not an IP address'],
      ['localhost', 'not an IP address'],
      ['127.0.0.1:80', 'not an IP address'],
      ['[::1]', 'not an IP address'],
      ['::1::2', 'not an IP address'],
      ['*', 'not an IP address'],
      ['fe80::1%eth0', 'zone id ("%eth0")'],
    ];
    for (const [entry, problem] of cases) {
      throwsBadOption(() => parseTrustProxy(`loopback, ${entry}`), JSON.stringify(entry), problem, JSON.stringify(`loopback, ${entry}`));
      throwsBadOption(() => parseTrustProxy(['loopback', entry]), JSON.stringify(entry), problem);
    }
  });

  test('an empty entry is an error, by its position', () => {
    throwsBadOption(() => parseTrustProxy('10.0.0.0/8,,::1'), 'entry 2 is empty', '"10.0.0.0/8,,::1"');
    throwsBadOption(() => parseTrustProxy('10.0.0.0/8, '), 'entry 2 is empty');
    throwsBadOption(() => parseTrustProxy(',10.0.0.0/8'), 'entry 1 is empty');
    throwsBadOption(() => parseTrustProxy(','), 'entry 1 is empty');
    throwsBadOption(() => parseTrustProxy(['10.0.0.0/8', '']), 'entry 2 is empty');
    throwsBadOption(() => parseTrustProxy([' ']), 'entry 1 is empty');
  });

  test('a value that is not a string or an array of strings is an error naming it', () => {
    throwsBadOption(() => parseTrustProxy(5), 'not a string or an array of strings', 'got 5.');
    throwsBadOption(() => parseTrustProxy(null), 'got null.');
    throwsBadOption(() => parseTrustProxy({ cidr: '10.0.0.0/8' }), 'got {"cidr":"10.0.0.0/8"}.');
    throwsBadOption(() => parseTrustProxy(10n), 'got 10n.');
    throwsBadOption(() => parseTrustProxy(['10.0.0.0/8', 5]), 'element 2 of the array is 5, not a string');
    throwsBadOption(() => parseTrustProxy([['10.0.0.0/8']]), 'element 1 of the array is ["10.0.0.0/8"], not a string');
  });

  test('true is refused with the spelling that trusts every peer', () => {
    throwsBadOption(() => parseTrustProxy(true), 'true is not accepted', '"0.0.0.0/0,::/0"', 'got true.');
  });
});

describe('TrustList', () => {
  const trust = new TrustList(parseTrustProxy('10.0.0.0/8,192.168.1.1,fd00::/8,::1'));

  test('size counts the distinct networks', () => {
    assert.equal(trust.size, 4);
    assert.equal(new TrustList([]).size, 0);
    assert.equal(new TrustList(parseTrustProxy('loopback,127.0.0.1/8')).size, 2);
  });

  test('an IPv4 address is trusted exactly when a network holds it', () => {
    for (const yes of ['10.0.0.0', '10.255.255.255', '192.168.1.1']) assert.equal(trust.trusts(yes), true, yes);
    for (const no of ['11.0.0.0', '9.255.255.255', '192.168.1.2', '192.168.1.0', '8.8.8.8']) assert.equal(trust.trusts(no), false, no);
  });

  test('an IPv6 address is trusted in any spelling', () => {
    for (const yes of ['fd00::', 'FD12:3456::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::1', '0:0:0:0:0:0:0:1']) assert.equal(trust.trusts(yes), true, yes);
    for (const no of ['fe00::', 'fc00::1', '::2', '2001:db8::1', '::']) assert.equal(trust.trusts(no), false, no);
  });

  test('an IPv4-mapped IPv6 address is checked as its IPv4 address', () => {
    for (const yes of ['::ffff:10.0.0.1', '::FFFF:a00:1', '0:0:0:0:0:ffff:192.168.1.1']) assert.equal(trust.trusts(yes), true, yes);
    for (const no of ['::ffff:11.0.0.1', '::ffff:192.168.1.2']) assert.equal(trust.trusts(no), false, no);
  });

  test('other IPv6 addresses that embed an IPv4 one are not taken for it', () => {
    for (const no of ['::10.0.0.1', '::a00:1', '64:ff9b::10.0.0.1', '::ffff:0:10.0.0.1']) assert.equal(trust.trusts(no), false, no);
  });

  test('an IPv6 network holding ::ffff:0:0/96 holds every IPv4 address too', () => {
    const all6 = new TrustList(parseTrustProxy('::/0'));
    assert.equal(all6.trusts('203.0.113.9'), true);
    assert.equal(all6.trusts('::ffff:203.0.113.9'), true);
    assert.equal(new TrustList(parseTrustProxy('2000::/3')).trusts('203.0.113.9'), false);
  });

  test('what is not an IP address is never trusted, even when every address is', () => {
    const all = new TrustList(parseTrustProxy('0.0.0.0/0,::/0,fe80::/10'));
    for (const no of ['', 'unknown', ' 10.0.0.1', '10.0.0.1 ', '10.0.0.1:80', '[::1]', '10.0.0.0/8', '010.0.0.1', 'fe80::1%eth0', '1.2.3.4.5', '::1::']) {
      assert.equal(all.trusts(no), false, JSON.stringify(no));
    }
  });

  test('an empty list trusts nothing', () => {
    const none = new TrustList([]);
    for (const address of ['127.0.0.1', '::1', '10.0.0.1']) assert.equal(none.trusts(address), false);
  });

  test('the constructor refuses what parseTrustProxy would, with the same error', () => {
    throwsBadOption(() => new TrustList(['10.0.0.0/33']), '"10.0.0.0/33"');
  });

  test('a question asked again gets the same answer, also after thousands of others', () => {
    const answers = new Map<string, boolean>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) {
        const address = i % 2 === 0 ? `10.0.${i >> 8}.${i & 255}` : `11.0.${i >> 8}.${i & 255}`;
        const verdict = trust.trusts(address);
        assert.equal(verdict, i % 2 === 0);
        if (round === 1) assert.equal(verdict, answers.get(address));
        answers.set(address, verdict);
      }
    }
  });
});

describe('forwardedClient', () => {
  const trust = new TrustList(parseTrustProxy('10.0.0.0/8,fd00::/8'));
  const via = (forwardedFor: string | undefined, peer = '10.0.0.1'): string => forwardedClient(peer, forwardedFor, trust);

  test("an untrusted peer's header is ignored", () => {
    assert.equal(via('198.51.100.7', '203.0.113.9'), '203.0.113.9');
    assert.equal(via('10.0.0.2', '203.0.113.9'), '203.0.113.9');
    assert.equal(forwardedClient('10.0.0.1', '198.51.100.7', new TrustList([])), '10.0.0.1');
  });

  test('with no header, or one without entries, the client is the peer', () => {
    for (const header of [undefined, '', ' ', ',', ' , \t,']) assert.equal(via(header), '10.0.0.1', JSON.stringify(header));
  });

  test('behind one trusted proxy, the client is the one entry', () => {
    assert.equal(via('198.51.100.7'), '198.51.100.7');
    assert.equal(via('2001:db8::7'), '2001:db8::7');
  });

  test('trusted hops are walked from the right; what the client wrote to their left does not count', () => {
    assert.equal(via('198.51.100.7, 10.0.0.3, 10.0.0.2'), '198.51.100.7');
    assert.equal(via('6.6.6.6, 10.9.9.9, 198.51.100.7, fd00::3, 10.0.0.2'), '198.51.100.7');
  });

  test('when every hop is trusted, the left-most one is the client', () => {
    assert.equal(via('10.0.0.9, 10.0.0.8'), '10.0.0.9');
    assert.equal(via('fd00::9'), 'fd00::9');
  });

  test('an entry that is not an address stops the walk at the hop that forwarded it', () => {
    assert.equal(via('198.51.100.7, unknown, 10.0.0.2'), '10.0.0.2');
    assert.equal(via('198.51.100.7, _hidden'), '10.0.0.1');
    assert.equal(via('198.51.100.7, 10.0.0.3, 1.2.3'), '10.0.0.1');
    // Garbage left of the client is the client's own business.
    assert.equal(via('unknown, 198.51.100.7, 10.0.0.2'), '198.51.100.7');
  });

  test('a port or brackets around an entry are dropped', () => {
    assert.equal(via('198.51.100.7:5678'), '198.51.100.7');
    assert.equal(via('[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(via('[2001:db8::1]'), '2001:db8::1');
    assert.equal(via('198.51.100.7, 10.0.0.2:80, [fd00::2]:1, [fd00::3]'), '198.51.100.7');
  });

  test('an IPv6 address without brackets is never read as having a port', () => {
    assert.equal(via('2001:db8::1:443'), '2001:db8::1:443');
  });

  test('a malformed port or bracket makes the entry garbage', () => {
    for (const bad of ['198.51.100.7:', '198.51.100.7:65536', '198.51.100.7:123456', '198.51.100.7:x', '198.51.100.7: 80', '[2001:db8::1', '[2001:db8::1]443', '[2001:db8::1]:', '[198.51.100.7]', '[[::1]]', '2001:db8::1]', '[]']) {
      assert.equal(via(`203.0.113.9, ${bad}, 10.0.0.2`), '10.0.0.2', bad);
    }
  });

  test('spaces and tabs around entries are ignored, but not inside one', () => {
    assert.equal(via('  198.51.100.7 ,\t10.0.0.2\t'), '198.51.100.7');
    assert.equal(via('198.51. 100.7, 10.0.0.2'), '10.0.0.2');
  });

  test('empty entries are skipped, as proxy-addr skips them', () => {
    assert.equal(via('198.51.100.7,,10.0.0.2'), '198.51.100.7');
    assert.equal(via('198.51.100.7, , 10.0.0.2,'), '198.51.100.7');
    assert.equal(via('10.0.0.5, ,'), '10.0.0.5');
  });

  test('IPv6 answers are written as Node writes addresses, IPv4-mapped ones unwrapped', () => {
    assert.equal(via('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(via('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(via('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(via('[::FFFF:c633:6407]:80'), '198.51.100.7');
    assert.equal(via('198.51.100.7, ::ffff:10.0.0.2'), '198.51.100.7');
    assert.equal(via('FD00:0::9'), 'fd00::9');
  });

  test('at most 32 trusted hops are walked: past them the answer is the 32nd', () => {
    /** `n` trusted hops, the right-most 10.0.0.1, the n-th from the right 10.0.0.n. */
    const hops = (n: number): string => Array.from({ length: n }, (_, i) => `10.0.0.${n - i}`).join(', ');
    assert.equal(via(`198.51.100.7, ${hops(32)}`), '198.51.100.7');
    assert.equal(via(hops(32)), '10.0.0.32');
    assert.equal(via(`198.51.100.7, ${hops(33)}`), '10.0.0.32');
    assert.equal(via(`198.51.100.7, ${hops(200)}`), '10.0.0.32');
    // Empty entries are not hops.
    assert.equal(via(`198.51.100.7, ${hops(32).replaceAll(', ', ', , ')}`), '198.51.100.7');
  });

  test('a mapped peer is checked as IPv4, and a peer is returned as given', () => {
    assert.equal(via('198.51.100.7', '::ffff:10.0.0.1'), '198.51.100.7');
    assert.equal(via('garbage', '::ffff:10.0.0.1'), '::ffff:10.0.0.1');
  });
});

describe('properties (fast-check)', () => {
  const trust = new TrustList(parseTrustProxy('10.0.0.0/8,fd00::/8'));
  // The model: node:net itself, address by address.
  const reference = new BlockList();
  reference.addSubnet('10.0.0.0', 8, 'ipv4');
  reference.addSubnet('fd00::', 8, 'ipv6');
  const referenceTrusts = (ip: string): boolean => reference.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  /** An address as Node writes it, IPv4-mapped unwrapped. */
  const canonical = (ip: string): string => {
    if (isIP(ip) === 4) return ip;
    const text = new SocketAddress({ address: ip, family: 'ipv6' }).address;
    return /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(text) ? text.slice(7) : text;
  };

  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const trustedV4 = fc.integer({ min: 0, max: 0xffffff }).map((n) => `10.${n >>> 16}.${(n >>> 8) & 255}.${n & 255}`);
  const trustedV6 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.array(group, { minLength: 7, maxLength: 7 })).map(([low, rest]) => [0xfd00 | low, ...rest].map((g) => g.toString(16)).join(':'));
  const trustedIp = fc.oneof(trustedV4, trustedV6, trustedV6.map(canonical));
  const untrustedIp = fc.oneof(fc.ipV4(), fc.ipV6()).filter((ip) => !referenceTrusts(ip));
  const anyIp = fc.oneof(fc.ipV4(), fc.ipV6());

  /** How a proxy might write an address: padded, with a port, bracketed, in capitals, mapped. */
  const style = fc.record({
    before: fc.constantFrom('', ' ', '\t', '  '),
    after: fc.constantFrom('', ' ', '\t'),
    form: fc.constantFrom('plain', 'port', 'brackets', 'upper', 'mapped'),
    port: fc.integer({ min: 0, max: 65535 }),
  });
  type Style = typeof style extends fc.Arbitrary<infer S> ? S : never;
  const write = (ip: string, { before, after, form, port }: Style): string => {
    const v6 = ip.includes(':');
    const text =
      form === 'port' ? (v6 ? `[${ip}]:${port}` : `${ip}:${port}`)
      : form === 'brackets' && v6 ? `[${ip}]`
      : form === 'upper' ? ip.toUpperCase()
      : form === 'mapped' && !v6 ? `::ffff:${ip}`
      : ip;
    return `${before}${text}${after}`;
  };
  const written = (ip: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.tuple(ip, style).map(([address, how]) => write(address, how));

  test('the client is the right-most untrusted entry, whatever trusted hops follow it', () => {
    fc.assert(
      fc.property(trustedIp, fc.array(written(anyIp), { maxLength: 4 }), untrustedIp, style, fc.array(written(trustedIp), { maxLength: 6 }), (peer, spoofed, client, how, hops) => {
        const header = [...spoofed, write(client, how), ...hops].join(',');
        assert.equal(forwardedClient(peer, header, trust), canonical(client), header);
      }),
      RUNS,
    );
  });

  test('when every entry is trusted, the left-most is the client', () => {
    fc.assert(
      fc.property(trustedIp, fc.array(trustedIp, { minLength: 1, maxLength: 6 }), (peer, hops) => {
        assert.equal(forwardedClient(peer, hops.join(', '), trust), canonical(hops[0]!));
      }),
      RUNS,
    );
  });

  test('an untrusted peer is the answer, whatever the header', () => {
    fc.assert(
      fc.property(untrustedIp, fc.string(), (peer, header) => {
        assert.equal(forwardedClient(peer, header, trust), peer);
      }),
      RUNS,
    );
  });

  test('a string is an address exactly when node:net says so (zone ids aside), and is trusted as node:net would', () => {
    const all = new TrustList(parseTrustProxy('0.0.0.0/0,::/0'));
    const text = fc.oneof(
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.ipV6(),
      fc.ipV6().map((ip) => ip.toUpperCase()),
      fc.string({ unit: fc.constantFrom('0', '1', 'f', 'F', 'g', ':', ':', '.', '%', '2', '5'), maxLength: 20 }),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 45 }), fc.constantFrom('', ':', '::', '.', '0', 'ffff', '1.2.3.4', '%')).map(([ip, at, extra]) => ip.slice(0, at) + extra + ip.slice(at)),
    );
    fc.assert(
      fc.property(text, (s) => {
        const valid = isIP(s) !== 0 && !s.includes('%');
        assert.equal(all.trusts(s), valid, s);
        if (valid) {
          assert.equal(trust.trusts(s), referenceTrusts(s), s);
          assert.equal(forwardedClient('10.0.0.1', s, new TrustList(parseTrustProxy('10.0.0.1'))), canonical(s), s);
        }
      }),
      RUNS,
    );
  });

  test('a CIDR is normalized to the network BlockList matches', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }))), anyIp, ([base, prefix], probe) => {
        const [entry] = parseTrustProxy(`${base}/${prefix}`);
        const list = new BlockList();
        list.addSubnet(base, prefix, isIP(base) === 6 ? 'ipv6' : 'ipv4');
        assert.equal(new TrustList([entry!]).trusts(probe), list.check(probe, isIP(probe) === 6 ? 'ipv6' : 'ipv4'), `${entry} ${probe}`);
        assert.equal(new TrustList([entry!]).trusts(base), true);
        assert.deepEqual(parseTrustProxy(entry!), [entry]);
      }),
      RUNS,
    );
  });
});

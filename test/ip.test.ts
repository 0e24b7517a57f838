import assert from 'node:assert/strict';
import { BlockList, isIP, SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { BAD, ipText, type IPText, NetworkSet, OUT, readIP, scanIPv4, scanIPv6 } from '../src/protocol/ip';

const RUNS = { numRuns: 500 };

/** What node:net makes of an address: its text as Node writes it, IPv4-mapped unwrapped. */
function nodeText(address: string): string {
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  const text = new SocketAddress({ address, family }).address;
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(text) ? text.slice(7) : text;
}

function groupsOf(address: string): Uint16Array {
  const groups = new Uint16Array(8);
  assert.notEqual(readIP(address, 0, address.length, groups), 0, address);
  return groups;
}

// Groups biased to zero (runs to compress) and to ffff at the mapped position.
const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
const groups = fc.array(group, { minLength: 8, maxLength: 8 });
const mappedText = fc.ipV4().map((v4) => `::ffff:${v4}`);
const anyAddress = fc.oneof(fc.ipV4(), fc.ipV6(), mappedText, groups.map((g) => g.map((n) => n.toString(16)).join(':')));

/** Text near an address: valid ones, node:net's loose ones, and broken ones. */
const addressLike = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.ipV6().map((ip) => ip.toUpperCase()),
  mappedText,
  groups.map((g) => g.map((n) => n.toString(16).padStart(4, '0')).join(':')),
  fc.string({ unit: fc.constantFrom('0', '1', 'f', 'F', 'g', ':', ':', '.', '%', '2', '5', ' '), maxLength: 24 }),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 45 }), fc.constantFrom('', ':', '::', '.', '0', '00000', 'ffff', '1.2.3.4', '%', '%eth0')).map(([ip, at, extra]) => ip.slice(0, at) + extra + ip.slice(at)),
);

describe('IP text (properties, fast-check)', () => {
  test('text is an address exactly when net.isIP says so, zone ids aside, and of its family, as a string or bytes', () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        const expected = text.includes('%') ? 0 : isIP(text);
        assert.equal(readIP(text, 0, text.length, new Uint16Array(8)), expected, text);
        assert.equal(readIP(Buffer.from(text, 'latin1'), 0, text.length, new Uint16Array(8)), expected, text);
      }),
      RUNS,
    );
  });

  test('an address is written back as SocketAddress writes it, IPv4-mapped unwrapped', () => {
    fc.assert(
      fc.property(fc.oneof(anyAddress, addressLike.filter((t) => isIP(t) !== 0 && !t.includes('%'))), (text) => {
        assert.equal(ipText(groupsOf(text)), nodeText(text), text);
      }),
      RUNS,
    );
  });

  test('an address ends where the text stops being one, and every prefix of it may still become one', () => {
    fc.assert(
      fc.property(anyAddress, fc.constantFrom(' ', '\r', ',', ']', 'x', '/'), fc.boolean(), (address, after, asBytes) => {
        const v6 = address.includes(':');
        const groups = new Uint16Array(8);
        const scan = (text: IPText, end: number): number => (v6 ? scanIPv6 : scanIPv4)(text, 0, end, groups);
        const text = asBytes ? Buffer.from(address + after, 'latin1') : address + after;
        assert.equal(scan(text, text.length), address.length, address);
        assert.equal(ipText(groups), nodeText(address));
        for (let end = 0; end < address.length; end++) {
          const stop = scan(text, end);
          assert.ok(stop === OUT || stop === end, `${address.slice(0, end)}: ${stop}`);
        }
        assert.equal(scan(text, address.length), address.length);
      }),
      RUNS,
    );
  });

  test('garbage is refused on the character that makes it so', () => {
    const g = new Uint16Array(8);
    assert.equal(scanIPv4('01.2.3.4', 0, 8, g), BAD);
    assert.equal(scanIPv4('1.2.3.256', 0, 9, g), BAD);
    assert.equal(scanIPv4('1.2.3', 0, 5, g), OUT);
    assert.equal(scanIPv6(':1', 0, 2, g), BAD);
    assert.equal(scanIPv6('1:2:3:4:5:6:7:8:9', 0, 17, g), BAD);
    assert.equal(scanIPv6('1::2::3', 0, 7, g), BAD);
    assert.equal(scanIPv6('1:2', 0, 3, g), OUT);
    assert.equal(scanIPv6('fe80::1%eth0', 0, 12, g), 7);
  });
});

describe('NetworkSet (properties against node:net BlockList)', () => {
  const v4Network = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([address, prefix]) => ({ address, prefix, family: 'ipv4' as const }));
  const v6Network = fc
    .tuple(fc.oneof(fc.ipV6(), mappedText, groups.map((g) => g.map((n) => n.toString(16)).join(':'))), fc.oneof(fc.integer({ min: 0, max: 128 }), fc.integer({ min: 80, max: 128 })))
    .map(([address, prefix]) => ({ address, prefix, family: 'ipv6' as const }));
  const network = fc.oneof(v4Network, v6Network);
  /** Probes: anything, or a network's own address with a few bits flipped (so near misses are common). */
  const probe = (networks: readonly { address: string }[]): fc.Arbitrary<string> =>
    fc.oneof(
      anyAddress,
      fc.tuple(fc.constantFrom(...networks), fc.array(fc.integer({ min: 0, max: 127 }), { maxLength: 2 }), fc.boolean()).map(([n, bits, asMapped]) => {
        const g = groupsOf(n.address);
        for (const bit of bits) g[bit >> 4]! ^= 0x8000 >> (bit & 15);
        const text = Array.from(g, (x) => x.toString(16)).join(':');
        // An IPv4-mapped probe may be asked as the IPv4 address it is.
        return !asMapped && /^0:0:0:0:0:ffff:/.test(text) ? ipText(g) : text;
      }),
    );

  test('an address is held exactly when BlockList says so, across families', () => {
    fc.assert(
      fc.property(
        fc.array(network, { minLength: 1, maxLength: 4 }).chain((networks) => fc.tuple(fc.constant(networks), fc.array(probe(networks), { minLength: 1, maxLength: 8 }))),
        ([networks, probes]) => {
          const reference = new BlockList();
          for (const n of networks) reference.addSubnet(n.address, n.prefix, n.family);
          const set = new NetworkSet(networks.map((n) => ({ groups: groupsOf(n.address), prefix: n.family === 'ipv4' ? 96 + n.prefix : n.prefix })));
          for (const address of probes) {
            const expected = reference.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
            assert.equal(set.has(groupsOf(address)), expected, `${JSON.stringify(networks)} ${address}`);
          }
        },
      ),
      RUNS,
    );
  });

  test('no network holds nothing, and ::/0 holds every IPv4 address', () => {
    assert.equal(new NetworkSet([]).has(groupsOf('10.0.0.1')), false);
    const all6 = new NetworkSet([{ groups: groupsOf('::'), prefix: 0 }]);
    assert.equal(all6.has(groupsOf('203.0.113.9')), true);
    assert.equal(new NetworkSet([{ groups: groupsOf('2000::'), prefix: 3 }]).has(groupsOf('203.0.113.9')), false);
  });
});

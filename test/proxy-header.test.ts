import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  Peer,
  TransportProtocol,
  UnixAddress,
  UnixProxyAddress,
  UnspecProxyAddress,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { PROXY_V1_MAX, parseProxyHeader, startsWithProxySignature } from '../src/protocol/proxy-header';
import type { ProxyParse, ProxySource } from '../src/protocol/proxy-header';

const MAX = 16 + 65535;
const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const parse = (b: Buffer | string, max = MAX): ProxyParse => parseProxyHeader(typeof b === 'string' ? text(b) : b, max);
const header = (length: number, source?: ProxySource): ProxyParse => ({ kind: 'header', length, source });
const ipv4 = (address: string, port: number): ProxySource => ({ address, port, family: 'IPv4' });
const ipv6 = (address: string, port: number): ProxySource => ({ address, port, family: 'IPv6' });

/** A v2 header: signature, the two nibble bytes, the length (of `body` unless given), `body`. */
function v2(verCmd: number, famTransport: number, body: readonly number[] | Buffer, length = body.length): Buffer {
  return Buffer.concat([SIG, Buffer.from([verCmd, famTransport, length >> 8, length & 0xff]), Buffer.from(body)]);
}

/** The source as Node itself prints the address, IPv4-mapped unwrapped as corral does. */
function nodeSource(address: string, port: number): ProxySource {
  const family = net.isIPv4(address) ? 'ipv4' : 'ipv6';
  const printed = new net.SocketAddress({ address, family }).address;
  if (printed.startsWith('::ffff:') && printed.includes('.')) return ipv4(printed.slice(7), port);
  return family === 'ipv4' ? ipv4(printed, port) : ipv6(printed, port);
}

/** Uncompressed hex text of 16 address bytes, for Node to normalize. */
function groupsText(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

/** Every prefix shorter than the header is 'incomplete'; from its end on, the same header. */
function assertEveryPrefix(head: Buffer, expected: ProxyParse): void {
  const whole = Buffer.concat([head, HTTP]);
  for (let k = 0; k <= whole.length; k++) {
    const got = parse(whole.subarray(0, k));
    assert.deepEqual(got, k < head.length ? { kind: 'incomplete' } : expected, `prefix of ${k} bytes`);
  }
}

/** `good` is still a valid prefix; the first byte of `bad` decides 'invalid', and so does the rest. */
function assertInvalidAt(good: Buffer | string, bad: Buffer | string, max = MAX): void {
  const g = typeof good === 'string' ? text(good) : good;
  const b = typeof bad === 'string' ? text(bad) : bad;
  assert.deepEqual(parse(g, max), { kind: 'incomplete' }, `${JSON.stringify(g.toString('latin1'))} is a valid prefix`);
  const at = parse(Buffer.concat([g, b.subarray(0, 1)]), max);
  assert.equal(at.kind, 'invalid', `invalid at ${JSON.stringify(g.toString('latin1') + b.toString('latin1', 0, 1))}`);
  assert.equal(parse(Buffer.concat([g, b]), max).kind, 'invalid');
}

describe('PROXY v1', () => {
  test('a TCP4 line gives the client address and port; its length stops at the CRLF', () => {
    const line = 'PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n';
    assert.deepEqual(parse(line + 'GET / HTTP/1.1\r\n'), header(line.length, ipv4('192.168.0.1', 56324)));
    assert.deepEqual(parse('PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n'), header(44, ipv4('0.0.0.0', 0)));
  });

  test('a TCP6 line gives the address as Node prints it, and a mapped IPv4 as IPv4', () => {
    const cases: Array<[string, ProxySource]> = [
      ['2001:DB8:0:0:0:0:0:1', ipv6('2001:db8::1', 80)],
      ['0:0:0:0:0:0:0:1', ipv6('::1', 80)],
      ['::', ipv6('::', 80)],
      ['1:0:0:1:0:0:0:1', ipv6('1:0:0:1::1', 80)],
      ['1:0:0:0:1:0:0:1', ipv6('1::1:0:0:1', 80)],
      ['2001:db8:0:1:1:1:1:1', ipv6('2001:db8:0:1:1:1:1:1', 80)],
      ['fe80::0001:0:0:0', ipv6('fe80::1:0:0:0', 80)],
      ['fe80:0:0:0001::', ipv6('fe80:0:0:1::', 80)],
      ['1:2:3:4:5:6:7::', ipv6('1:2:3:4:5:6:7:0', 80)],
      ['::1.2.3.4', ipv6('::1.2.3.4', 80)],
      ['::ffff:0:1.2.3.4', ipv6('::ffff:0:102:304', 80)],
      ['::FFFF:10.0.0.1', ipv4('10.0.0.1', 80)],
      ['::ffff:a00:1', ipv4('10.0.0.1', 80)],
      ['0:0:0:0:0:ffff:7f00:1', ipv4('127.0.0.1', 80)],
    ];
    for (const [address, source] of cases) {
      const line = `PROXY TCP6 ${address} ::1 80 8080\r\n`;
      assert.deepEqual(parse(line), header(line.length, source), address);
      assert.deepEqual(source, nodeSource(address, 80), `${address}: the expectation agrees with Node`);
    }
  });

  test('UNKNOWN has no source, with or without the rest of the line', () => {
    assert.deepEqual(parse('PROXY UNKNOWN\r\nGET'), header(15));
    assert.deepEqual(parse('PROXY UNKNOWN ffff::1 ::1 1 2\r\n'), header(31));
    const odd = 'PROXY UNKNOWN anything at all \x00\xff\r\n';
    assert.deepEqual(parse(odd), header(odd.length));
  });

  test('every prefix of a valid line is incomplete, and the line plus HTTP gives its length', () => {
    for (const [line, source] of [
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n', ipv4('1.2.3.4', 1)],
      ['PROXY TCP6 2001:db8::ff00:42:8329 ::1 65535 0\r\n', ipv6('2001:db8::ff00:42:8329', 65535)],
      ['PROXY TCP6 ::ffff:1.2.3.4 ::ffff:5.6.7.8 1 2\r\n', ipv4('1.2.3.4', 1)],
      ['PROXY UNKNOWN\r\n', undefined],
      ['PROXY UNKNOWN x\r\n', undefined],
    ] as const) {
      assertEveryPrefix(text(line), header(line.length, source));
    }
  });

  test('a line of exactly 107 bytes is accepted; without a CRLF in 107 bytes it is invalid at once', () => {
    const pad = (n: number): string => 'PROXY UNKNOWN '.padEnd(n, 'x');
    assert.equal(pad(105 + 2).length, PROXY_V1_MAX);
    assert.deepEqual(parse(pad(105) + '\r\nGET'), header(107));
    assert.deepEqual(parse(pad(105)), { kind: 'incomplete' });
    assert.deepEqual(parse(pad(105) + '\r'), { kind: 'incomplete' });
    assert.equal(parse(pad(106)).kind, 'invalid', '106 bytes and no CR: the CRLF can no longer fit');
    assert.equal(parse(pad(106) + '\r\n').kind, 'invalid');
    assert.equal(parse(pad(300)).kind, 'invalid');
    // A TCP6 line can be too long with the longest spellings of two addresses.
    const long = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    assert.equal(parse(`PROXY TCP6 ${long} ${long} 65535 65535\r\n`).kind, 'invalid');
    assert.equal(parse(`PROXY TCP6 ${long} ${long} 65535 `).kind, 'invalid', 'decided before the last port');
    const at107 = `PROXY TCP6 ${long} fff:ffff:ffff:ffff:ffff:ffff:1.1.1.1 65535 65535\r\n`;
    const at108 = `PROXY TCP6 ${long} ffff:ffff:ffff:ffff:ffff:ffff:1.1.1.1 65535 65535\r\n`;
    assert.deepEqual([at107.length, at108.length], [107, 108]);
    assert.equal(parse(at107 + 'GET').kind, 'header');
    assert.equal(parse(at108 + 'GET').kind, 'invalid');
    assert.equal(parse(at108.slice(0, 107)).kind, 'invalid', 'a CR at byte 107 cannot start a CRLF that fits');
  });

  test('a bad signature or protocol is invalid on the first byte that shows it', () => {
    assertInvalidAt('', 'GET / HTTP/1.1\r\n');
    assertInvalidAt('', 'proxy TCP4');
    assertInvalidAt('PROX', 'Z');
    assertInvalidAt('PROXY', '\tTCP4');
    assertInvalidAt('PROXY ', ' TCP4');
    assertInvalidAt('PROXY ', 'tcp4');
    assertInvalidAt('PROXY TCP', '5 1.2.3.4');
    assertInvalidAt('PROXY TCP4', '\t1.2.3.4');
    assertInvalidAt('PROXY UNKNOWN', 'X\r\n');
  });

  test('bad addresses are invalid on the first byte that shows it', () => {
    const rest = ' 5.6.7.8 1 2\r\n';
    assertInvalidAt('PROXY TCP4 ', ' 1.2.3.4' + rest);
    assertInvalidAt('PROXY TCP4 1.2.3', rest);
    assertInvalidAt('PROXY TCP4 1.2.3.', '.4' + rest);
    assertInvalidAt('PROXY TCP4 1.2.3.25', '6' + rest);
    assertInvalidAt('PROXY TCP4 0', '1.2.3.4' + rest);
    assertInvalidAt('PROXY TCP4 1.2.3.4', '.5' + rest);
    assertInvalidAt('PROXY TCP4 1.2.3.4', 'x' + rest);
    assertInvalidAt('PROXY TCP4 ', 'fe80::1' + rest);
    assertInvalidAt('PROXY TCP4 1.2.3.4 5.6.7', ' 1 2\r\n');
    const rest6 = ' ::1 1 2\r\n';
    assertInvalidAt('PROXY TCP6 1', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 :', '1' + rest6);
    assertInvalidAt('PROXY TCP6 ::', ':' + rest6);
    assertInvalidAt('PROXY TCP6 1::2:', ':3' + rest6);
    assertInvalidAt('PROXY TCP6 1234', '5::' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:6:7:8', ':' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:6:7', rest6);
    assertInvalidAt('PROXY TCP6 1::2:3:4:5:6:7', ':8' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:6:7::', '8' + rest6);
    assertInvalidAt('PROXY TCP6 1:: ', rest6);
    assertInvalidAt('PROXY TCP6 1:', rest6);
    assertInvalidAt('PROXY TCP6 1::2:', rest6);
    assertInvalidAt('PROXY TCP6 ::1:', rest6);
    assertInvalidAt('PROXY TCP6 fe80::1', '%eth0' + rest6);
    assertInvalidAt('PROXY TCP6 ::', 'g' + rest6);
    assertInvalidAt('PROXY TCP6 ::ffff:1.2.3.4', '.5' + rest6);
    assertInvalidAt('PROXY TCP6 ::ffff:1.2.3.4', ':5' + rest6);
    assertInvalidAt('PROXY TCP6 ::ffff:01', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 ::ffff:ab', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:6:7:1', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:1', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 1:2:3:4:5:6::1', '.2.3.4' + rest6);
    assertInvalidAt('PROXY TCP6 ::1 1', '.2.3.4 1 2\r\n');
    assert.equal(parse('PROXY TCP6 1:2:3:4:5::1.2.3.4 ::1 1 2\r\n').kind, 'header');
    assert.equal(parse('PROXY TCP6 1:2:3:4:5:6:1.2.3.4 ::1 1 2\r\n').kind, 'header');
  });

  test('bad ports, spacing and line ends are invalid on the first byte that shows it', () => {
    const head = 'PROXY TCP4 1.2.3.4 5.6.7.8 ';
    assertInvalidAt(head, '-1 2\r\n');
    assertInvalidAt(head, '+1 2\r\n');
    assertInvalidAt(head, ' 1 2\r\n');
    assertInvalidAt(head + '0', '1 2\r\n');
    assertInvalidAt(head + '0', '0 2\r\n');
    assertInvalidAt(head + '6553', '6 2\r\n');
    assertInvalidAt(head + '1 ', 'a\r\n');
    assertInvalidAt(head + '1 6553', '6\r\n');
    assertInvalidAt(head + '1 2', '\n');
    assertInvalidAt(head + '1 2\r', 'x');
    assertInvalidAt(head + '1 2\r', '\r\n');
    assertInvalidAt(head + '1 2', ' \r\n');
    assertInvalidAt(head + '1 2', ' 3\r\n');
    assertInvalidAt(head + '1', '\r\n');
    assertInvalidAt('PROXY UNKNOWN', '\n');
    assertInvalidAt('PROXY UNKNOWN foo', '\nbar\r\n');
    assertInvalidAt('PROXY UNKNOWN foo\r', 'bar\r\n');
    assert.deepEqual(parse(head + '1 65535\r\n'), header(head.length + 9, ipv4('1.2.3.4', 1)));
  });
});

describe('PROXY v2', () => {
  const inet = [192, 0, 2, 1, 198, 51, 100, 7, 0xdb, 0xff, 0x01, 0xbb]; // ports 56319 -> 443
  const tlvs = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]; // ALPN "h2", NOOP

  test('a TCP4 header gives the client; its TLVs are skipped within the length', () => {
    assert.deepEqual(parse(Buffer.concat([v2(0x21, 0x11, inet), HTTP])), header(28, ipv4('192.0.2.1', 56319)));
    const withTlvs = v2(0x21, 0x11, [...inet, ...tlvs]);
    assert.deepEqual(parse(Buffer.concat([withTlvs, HTTP])), header(36, ipv4('192.0.2.1', 56319)));
    assertEveryPrefix(withTlvs, header(36, ipv4('192.0.2.1', 56319)));
  });

  test('a TCP6 header gives the address as Node prints it, and a mapped IPv4 as IPv4', () => {
    const addresses = (src: number[]): number[] => [...src, ...new Array<number>(15).fill(0), 1, 0x1f, 0x90, 0, 80];
    const db8 = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1];
    const mapped = [...new Array<number>(10).fill(0), 0xff, 0xff, 10, 1, 2, 3];
    assertEveryPrefix(v2(0x21, 0x21, addresses(db8)), header(52, ipv6('2001:db8::1', 8080)));
    assertEveryPrefix(v2(0x21, 0x21, [...addresses(mapped), ...tlvs]), header(60, ipv4('10.1.2.3', 8080)));
  });

  test('IPv6 text matches Node for every pattern of zero groups', () => {
    for (let mask = 0; mask < 256; mask++) {
      for (const [fill, w5] of [[0x1, undefined], [0xabcd, undefined], [0x1, 0xffff]] as const) {
        const words = Array.from({ length: 8 }, (_, i) => (i === 5 && w5 !== undefined ? w5 : mask & (1 << i) ? fill : 0));
        const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
        const got = parse(v2(0x21, 0x21, [...bytes, ...new Array<number>(20).fill(0)]));
        assert.deepEqual(got, header(52, nodeSource(groupsText(bytes), 0)), words.join(','));
      }
    }
  });

  test('LOCAL, UNSPEC and UNIX headers have no source, whatever their addresses', () => {
    assertEveryPrefix(v2(0x20, 0x00, []), header(16));
    assertEveryPrefix(v2(0x20, 0x11, [...inet, ...tlvs]), header(36));
    assertEveryPrefix(v2(0x20, 0x11, []), header(16)); // LOCAL ignores the family, and its length
    assertEveryPrefix(v2(0x21, 0x00, tlvs), header(24));
    assertEveryPrefix(v2(0x21, 0x31, new Array<number>(216).fill(0x41)), header(232));
    assert.deepEqual(parse(v2(0x21, 0x12, inet)), header(28, ipv4('192.0.2.1', 56319)), 'DGRAM still names the client');
  });

  test('a header as long as maxLength is accepted; one byte longer is invalid once the length is read', () => {
    const h = v2(0x21, 0x11, [...inet, ...tlvs]);
    assert.equal(parse(h, 36).kind, 'header');
    assertInvalidAt(h.subarray(0, 15), h.subarray(15), 35);
    assertInvalidAt(v2(0x21, 0x00, [], 0xffff).subarray(0, 15), Buffer.from([0xff]), MAX - 1);
    assert.equal(parse(h.subarray(0, 3), 15).kind, 'invalid', 'no v2 header fits in 15 bytes');
  });

  test('a bad signature, version, command, family, transport or short length is invalid at once', () => {
    const h = v2(0x21, 0x11, inet);
    for (let i = 0; i < 12; i++) {
      const bad = Buffer.from(h);
      bad[i] = (bad[i] ?? 0) ^ 0x40;
      assertInvalidAt(bad.subarray(0, i), bad.subarray(i));
    }
    for (const verCmd of [0x11, 0x31, 0x01, 0xf1, 0x22, 0x2f]) assertInvalidAt(SIG, v2(verCmd, 0x11, inet).subarray(12));
    for (const famTr of [0x41, 0xf1, 0x13, 0x1f]) assertInvalidAt(v2(0x21, famTr, inet).subarray(0, 13), v2(0x21, famTr, inet).subarray(13));
    for (const [famTr, min] of [[0x11, 12], [0x21, 36], [0x31, 216]] as const) {
      const short = v2(0x21, famTr, new Array<number>(min).fill(0), min - 1);
      assertInvalidAt(short.subarray(0, 15), short.subarray(15));
    }
  });
});

describe('startsWithProxySignature', () => {
  test('says true, false, or undefined while the bytes are a prefix of a signature', () => {
    const cases: Array<[Buffer | string, boolean | undefined]> = [
      ['', undefined],
      ['P', undefined],
      ['PROXY', undefined],
      ['PROXY ', true],
      ['PROXY TCP4 1.2', true],
      ['PROXy ', false],
      ['PROXY\t', false],
      ['GET / ', false],
      [SIG.subarray(0, 1), undefined],
      [SIG.subarray(0, 11), undefined],
      [SIG, true],
      [v2(0x21, 0x11, []), true],
      [Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01]), false],
      ['\r\n\r\n', undefined],
      ['\r\n\r\nGET', false],
    ];
    for (const [bytes, expected] of cases) {
      assert.equal(startsWithProxySignature(typeof bytes === 'string' ? text(bytes) : bytes), expected, JSON.stringify(String(bytes)));
    }
  });
});

/** Random IPv6 bytes that often hold zero runs and the mapped prefix. */
const ipv6Bytes = fc
  .tuple(fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), fc.boolean())
  .map(([words, mapped]) => (mapped ? [0, 0, 0, 0, 0, 0xffff, ...words.slice(6)] : words).flatMap((w) => [w >> 8, w & 0xff]));
const ipv4Bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const port = fc.integer({ min: 0, max: 65535 });

/** A valid header (built by proxy-protocol-js or with TLVs by hand) and what it parses to. */
const validHeader: fc.Arbitrary<{ bytes: Buffer; expected: ProxyParse }> = fc.oneof(
  fc.tuple(fc.boolean(), fc.ipV4(), fc.ipV4(), fc.ipV6(), fc.ipV6(), port, port).map(([six, a4, b4, a6, b6, sp, dp]) => {
    const line = new V1ProxyProtocol(six ? INETProtocol.TCP6 : INETProtocol.TCP4, new Peer(six ? a6 : a4, sp), new Peer(six ? b6 : b4, dp)).build();
    const bytes = text(line);
    return { bytes, expected: bytes.length > PROXY_V1_MAX ? { kind: 'invalid' as const, reason: '' } : header(bytes.length, nodeSource(six ? a6 : a4, sp)) };
  }),
  fc.tuple(ipv4Bytes, ipv6Bytes, port, fc.uint8Array({ maxLength: 40 }), fc.boolean()).map(([a4, a6, sp, extra, six]) => {
    const body = six ? [...a6, ...new Array<number>(16).fill(0), sp >> 8, sp & 0xff, 0, 1] : [...a4, 0, 0, 0, 0, sp >> 8, sp & 0xff, 0, 1];
    const bytes = v2(0x21, six ? 0x21 : 0x11, [...body, ...extra]);
    return { bytes, expected: header(bytes.length, nodeSource(six ? groupsText(a6) : a4.join('.'), sp)) };
  }),
  fc.constantFrom(text('PROXY UNKNOWN\r\n'), v2(0x20, 0x00, []), v2(0x21, 0x31, new Array<number>(216).fill(0))).map((bytes) => ({ bytes, expected: header(bytes.length) })),
);

describe('properties', () => {
  test('v1 headers built by proxy-protocol-js parse to the source and length it reads back', () => {
    const addresses = fc.oneof(fc.tuple(fc.constant(INETProtocol.TCP4), fc.ipV4(), fc.ipV4()), fc.tuple(fc.constant(INETProtocol.TCP6), fc.ipV6(), fc.ipV6()));
    fc.assert(
      fc.property(addresses, port, port, fc.string({ maxLength: 20 }), ([proto, src, dst], sp, dp, data) => {
        const built = new V1ProxyProtocol(proto, new Peer(src, sp), new Peer(dst, dp), data).build();
        const theirs = V1ProxyProtocol.parse(built);
        const length = built.length - data.length;
        const got = parse(built);
        if (length > PROXY_V1_MAX) assert.equal(got.kind, 'invalid');
        else assert.deepEqual(got, header(length, nodeSource(theirs.source.ipAddress, theirs.source.port)));
      }),
      { numRuns: 500 },
    );
  });

  test('v2 headers built by proxy-protocol-js parse to the source and length it reads back', () => {
    const address = fc.oneof(
      fc.tuple(ipv4Bytes, ipv4Bytes, port, port).map(([s, d, sp, dp]) => new IPv4ProxyAddress(IPv4Address.createFrom(s), sp, IPv4Address.createFrom(d), dp)),
      fc.tuple(ipv6Bytes, ipv6Bytes, port, port).map(([s, d, sp, dp]) => new IPv6ProxyAddress(IPv6Address.createFrom(s), sp, IPv6Address.createFrom(d), dp)),
    );
    const transport = fc.constantFrom(TransportProtocol.STREAM, TransportProtocol.DGRAM, TransportProtocol.UNSPEC);
    fc.assert(
      fc.property(address, transport, fc.uint8Array({ maxLength: 30 }), (addr, tr, data) => {
        // proxy-protocol-js puts `data` after the header without counting it: the client's bytes.
        const built = Buffer.from(new V2ProxyProtocol(Command.PROXY, tr, addr, data).build());
        const theirs = V2ProxyProtocol.parse(built).proxyAddress;
        assert.ok(theirs instanceof IPv4ProxyAddress || theirs instanceof IPv6ProxyAddress);
        const src = theirs.sourceAddress.address;
        const expected = nodeSource(src.length === 4 ? src.join('.') : groupsText(src), theirs.sourcePort);
        assert.deepEqual(parse(built), header(built.length - data.length, expected));
      }),
      { numRuns: 500 },
    );
    const unix = new UnixProxyAddress(UnixAddress.createFrom([0x2f, 0x74]), UnixAddress.createWithEmptyAddress());
    assert.deepEqual(parse(Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, unix).build())), header(232));
    assert.deepEqual(parse(Buffer.from(new V2ProxyProtocol(Command.LOCAL, TransportProtocol.UNSPEC, new UnspecProxyAddress()).build())), header(16));
  });

  test('v1 addresses are valid exactly when net.isIPv4 / net.isIPv6 say so, and TCP6 text is normalized as Node does', () => {
    const mutate = (s: string, alphabet: string) =>
      fc.tuple(fc.nat(s.length), fc.nat(2), fc.constantFrom(...alphabet)).map(([i, op, ch]) => (op === 0 ? s.slice(0, i) + ch + s.slice(i + 1) : op === 1 ? s.slice(0, i) + ch + s.slice(i) : s.slice(0, i) + s.slice(i + 1)));
    const v6Alphabet = '0123456789abcdefABCDEF:.';
    const v4Alphabet = '0123456789.';
    const v6 = fc.oneof(fc.ipV6(), fc.ipV6().chain((s) => mutate(s, v6Alphabet)), fc.string({ unit: fc.constantFrom(...v6Alphabet), maxLength: 45 }));
    const v4 = fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV4().chain((s) => mutate(s, v4Alphabet)), fc.string({ unit: fc.constantFrom(...v4Alphabet), maxLength: 16 }));
    const cases = fc.oneof(v6.map((a) => ['TCP6', a, '::1'] as const), v4.map((a) => ['TCP4', a, '1.1.1.1'] as const));
    fc.assert(
      fc.property(cases, fc.boolean(), ([proto, candidate, other], asSource) => {
        const line = asSource ? `PROXY ${proto} ${candidate} ${other} 7 9\r\n` : `PROXY ${proto} ${other} ${candidate} 7 9\r\n`;
        const valid = proto === 'TCP6' ? net.isIPv6(candidate) : net.isIPv4(candidate);
        const got = parse(line);
        assert.equal(got.kind, valid ? 'header' : 'invalid', candidate);
        if (asSource && got.kind === 'header') assert.deepEqual(got.source, nodeSource(candidate, 7));
      }),
      { numRuns: 500 },
    );
  });

  test('random bytes never throw, and are never incomplete past the bounds', () => {
    const starts = fc.constantFrom('', 'PROXY ', 'PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN', 'PROXY TCP4 1.2.3.4 5.6.7.8 ', 'PROXY TCP6 ::1 ::');
    const v1Chars = fc.oneof(fc.constantFrom(...'0123456789abcdefABCDEF:. \r\nPROXYTCP46UNKOW'), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(starts, fc.string({ unit: v1Chars, maxLength: 130 }), (start, rest) => {
        const bytes = text(start + rest);
        const got = parse(bytes);
        if (bytes.length >= PROXY_V1_MAX) assert.notEqual(got.kind, 'incomplete');
        if (got.kind === 'header') assert.ok(got.length <= Math.min(bytes.length, PROXY_V1_MAX));
      }),
      { numRuns: 500 },
    );
    const big = Buffer.alloc(16 + 65535 + 16);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (head, max, fill, signed) => {
        const start = signed ? Buffer.concat([SIG, head]) : Buffer.from(head);
        big.fill(fill);
        start.copy(big);
        const got = parseProxyHeader(big, max);
        assert.notEqual(got.kind, 'incomplete');
        if (got.kind === 'header') assert.ok(got.length <= max);
        parseProxyHeader(start, max); // any shorter input, too, answers without throwing
      }),
      { numRuns: 300 },
    );
  });

  test('a valid header split anywhere: the first part is incomplete, or the header once it is all there', () => {
    fc.assert(
      fc.property(validHeader, fc.uint8Array({ maxLength: 40 }), fc.nat(), ({ bytes, expected }, after, at) => {
        const whole = Buffer.concat([bytes, after]);
        const k = at % (whole.length + 1);
        const got = parse(whole.subarray(0, k)); // a view: the bytes after it must not be read
        if (expected.kind === 'invalid') assert.notEqual(got.kind, 'header');
        else assert.deepEqual(got, k < bytes.length ? { kind: 'incomplete' } : expected);
      }),
      { numRuns: 500 },
    );
  });

  test('once a prefix of a damaged header is decided, every longer prefix gets the same answer', () => {
    const damage = fc.tuple(validHeader, fc.nat(), fc.nat(2), fc.oneof(fc.constantFrom(...text('0123456789af:. \r\nPTU\x00')), fc.integer({ min: 0, max: 255 })));
    fc.assert(
      fc.property(damage, ([{ bytes }, at, op, byte]) => {
        const i = at % bytes.length;
        const b = Buffer.concat([bytes.subarray(0, i), Buffer.from(op === 2 ? [] : [byte]), bytes.subarray(op === 1 ? i : i + 1), HTTP]);
        let decided: ProxyParse | undefined;
        for (let k = 0; k <= b.length; k++) {
          const got = parse(b.subarray(0, k));
          if (decided === undefined) {
            if (got.kind !== 'incomplete') decided = got;
          } else if (decided.kind === 'header') assert.deepEqual(got, decided, `prefix of ${k}`);
          else assert.equal(got.kind, 'invalid', `prefix of ${k}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

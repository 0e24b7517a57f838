import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CorralError } from '../src/errors';
import { resolveLbPlan, type LbInput } from '../src/lb/hosts';
import { defaultHostId, OPTION_NAMES, resolveConfig, type CorralOptions } from '../src/options';
import { generateSid, HOST_ID_PATTERN, normalizeEnginePath, parseSid, sidOfTarget, slotOfSid } from '../src/protocol/sid';
import { SidRouter, targetOfLine } from '../src/routing/sid';
import { EngineSessions } from '../src/routing/sessions';

/** The slot the primary reads off a request line, as the sid router sees it. */
function slotOfRequestLine(line: string, paths: readonly string[], hostPrefix: string): number {
  return new EngineSessions(hostPrefix.slice(0, -1), paths).slotOf(targetOfLine(line));
}
import { fixture, startCorral, type Running } from './helpers/corral';
import { exchange } from './helpers/engine';
import { rawExchange } from './helpers/raw';

// One seed for every property, so a failure replays exactly: fast-check prints it with the
// counterexample. FUZZ_SEED=<n> explores other inputs.
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_240_611);
const runs = <T>(numRuns: number): fc.Parameters<T> => ({ seed: SEED, numRuns });

const MAX_SLOT = 2 ** 31 - 1;
const B64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];

const hostId = fc.oneof(fc.stringMatching(HOST_ID_PATTERN), fc.constantFrom('h', 'h1', 'h10', '0', 'a-b', 'x'.repeat(63)));
const slot = fc.oneof(fc.integer({ min: 0, max: MAX_SLOT }), fc.constantFrom(0, 1, 35, 36, 1023, MAX_SLOT));
const b64Tail = fc.string({ unit: fc.constantFrom(...B64URL), minLength: 1, maxLength: 24 });
/** Bits that make a parser stumble: dots, escapes, case, look-alike digits, surrogates, controls. */
const awkward = fc.constantFrom('.', '..', '%2E', '%2e', '%', '-', '&', '=', ' ', '\0', '\r\n', 'A', 'Z', '\u0130', '\u212a', '\uff11', '\u{1f600}', '\ud800', '/');
const sidLike = fc
  .array(fc.oneof(hostId, awkward, slot.map((n) => n.toString(36)), b64Tail, fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 10 })
  .map((parts) => parts.join(''));
/** `<host>` `.`? `<digits>` `.`? `<tail>`: the edges of the format (no tail, 7 digits, a dot missing). */
const nearSidOf = (host: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(host, fc.constantFrom('.', '', '..'), fc.string({ unit: fc.constantFrom(...'019azAZ'), maxLength: 8 }), fc.constantFrom('.', '', '..', '%2E'), fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 3 })))
    .map((parts) => parts.join(''));
const nearSid = nearSidOf(hostId);
const longString = fc.tuple(sidLike, fc.constantFrom('.', 'a', '0', '.0', 'é'), fc.integer({ min: 1000, max: 50_000 })).map(([s, c, n]) => s + c.repeat(n));
const anyString = fc.oneof(sidLike, nearSid, fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), longString);

/** Reference for {@link slotOfSid}: `<host>.<1 to 6 base36 digits>.<at least one more char>`. */
function referenceSlot(sid: string, host: string): number {
  const m = /^([^.]*)\.([0-9a-z]{1,6})\.[^]/.exec(sid);
  return m !== null && m[1] === host ? parseInt(m[2]!, 36) : -1;
}

/** Reference for {@link parseSid}. */
function referenceParse(sid: string): { host: string; slot: number } | undefined {
  const m = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.([0-9a-z]{1,6})\.[^]/.exec(sid);
  return m === null ? undefined : { host: m[1]!, slot: parseInt(m[2]!, 36) };
}

describe('session id parsing (property-based)', () => {
  test('a generated sid gives back its host and slot, and is URL-safe', () => {
    fc.assert(
      fc.property(hostId, slot, (host, n) => {
        const sid = generateSid(host, n);
        assert.match(sid, /^[a-z0-9-]+\.[0-9a-z]{1,6}\.[A-Za-z0-9_-]{20}$/);
        assert.equal(encodeURIComponent(sid), sid);
        assert.deepEqual(parseSid(sid), { host, slot: n });
        assert.equal(slotOfSid(sid, `${host}.`), n);
      }),
      runs(2000),
    );
  });

  test('a sid spelled by hand with any base64url tail gives back its host and slot', () => {
    fc.assert(
      fc.property(hostId, slot, b64Tail, (host, n, tail) => {
        const sid = `${host}.${n.toString(36)}.${tail}`;
        assert.deepEqual(parseSid(sid), { host, slot: n });
        assert.equal(slotOfSid(sid, `${host}.`), n);
      }),
      runs(2000),
    );
  });

  test('on any string the parsers never throw and agree with a regex reference', () => {
    const input = hostId.chain((host) => fc.tuple(fc.constant(host), fc.oneof(anyString, anyString.map((s) => `${host}.${s}`), nearSidOf(fc.constant(host)))));
    fc.assert(
      fc.property(input, ([host, s]) => {
        assert.equal(slotOfSid(s, `${host}.`), referenceSlot(s, host));
        assert.deepEqual(parseSid(s), referenceParse(s));
      }),
      runs(2000),
    );
  });

  test('any host prefix, valid or not, gives -1 or a slot of at most six base36 digits', () => {
    fc.assert(
      fc.property(anyString, anyString, (s, prefix) => {
        const n = slotOfSid(s, prefix);
        assert.ok(n === -1 || (Number.isInteger(n) && n >= 0 && n < 36 ** 6), `got ${n}`);
      }),
      runs(1000),
    );
  });

  test('a sid of one host never names a slot for another, even one that begins or extends its id', () => {
    const related = fc
      .tuple(hostId, fc.oneof(hostId, fc.stringMatching(/^[a-z0-9-]{1,4}$/)), fc.nat())
      .map(([a, other, cut]) => {
        const candidates = [other, `${a}${other}`, `${other}${a}`, a.slice(0, 1 + (cut % a.length))].filter((b) => b !== a && HOST_ID_PATTERN.test(b));
        return [a, candidates] as const;
      });
    fc.assert(
      fc.property(related, slot, ([a, others], n) => {
        const sid = generateSid(a, n);
        for (const b of others) assert.equal(slotOfSid(sid, `${b}.`), -1, `host ${b} read ${sid}`);
      }),
      runs(2000),
    );
  });
});

const LOCAL = 'h1';
const enginePaths = fc.uniqueArray(fc.oneof(fc.constant('/socket.io'), fc.stringMatching(/^\/[a-z][a-z0-9._-]{0,8}(\/[a-z0-9]{1,5})?\/?$/)).map(normalizeEnginePath), { minLength: 1, maxLength: 3 });
const queryChar = fc.constantFrom(...B64URL, '.', '%', '=', '~', '!', '*');
const otherParam = fc
  .tuple(fc.constantFrom('EIO', 'transport', 't', 'b64', 'xsid', 'sids', 'SID', 'Sid', 'si', 'sid%3D', 'x'), fc.constantFrom('=', ''), fc.string({ unit: queryChar, maxLength: 12 }))
  .map((parts) => parts.join(''))
  .filter((p) => !p.startsWith('sid='));
const method = fc.constantFrom('GET', 'POST', 'OPTIONS', 'PUT');
const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.0', '');
/** A sid of this host for `n`, from corral itself or spelled by hand. */
const localSid = (n: number): fc.Arbitrary<string> => fc.oneof(fc.constant(generateSid(LOCAL, n)), b64Tail.map((tail) => `${LOCAL}.${n.toString(36)}.${tail}`));

/** Reference for {@link sidOfTarget}, by splitting. */
function referenceSidOfTarget(target: string, paths: readonly string[]): string | undefined {
  const q = target.indexOf('?');
  if (q < 0 || !paths.some((p) => target.startsWith(p))) return undefined;
  return target.slice(q + 1).split('&').find((p) => p.startsWith('sid=') && p.length > 4)?.slice(4);
}

/** Reference for {@link slotOfRequestLine}: the target is what lies between the first two spaces. */
function referenceLineSlot(line: string, paths: readonly string[], host: string): number {
  const target = /^[^ ]* ([^ ]*)/.exec(line)?.[1];
  const sid = target === undefined ? undefined : referenceSidOfTarget(target, paths);
  return sid === undefined ? -1 : referenceSlot(sid, host);
}

describe('request-line routing (property-based)', () => {
  test('on any request line or target, the readers never throw and agree with a split-based reference', () => {
    const line = fc.oneof(
      anyString,
      fc.tuple(method, fc.constantFrom(' ', '  ', ''), fc.constantFrom('/socket.io/', '/socket.io', '/', ''), fc.constantFrom('?', '', '??', '#?'), fc.array(fc.oneof(otherParam, sidLike.map((s) => `sid=${s}`), nearSid.map((s) => `sid=${s}`)), { maxLength: 4 }), fc.constantFrom(' ', ''), version).map(
        ([m, sp, path, q, params, sp2, v]) => `${m}${sp}${path}${q}${params.join('&')}${sp2}${v}`,
      ),
    );
    fc.assert(
      fc.property(line, enginePaths, (l, paths) => {
        assert.equal(slotOfRequestLine(l, paths, `${LOCAL}.`), referenceLineSlot(l, paths, LOCAL));
        const target = l.slice(l.indexOf(' ') + 1);
        assert.equal(sidOfTarget(target, paths), referenceSidOfTarget(target, paths));
      }),
      runs(2000),
    );
  });

  test('a sid of this host on an announced Engine.IO path gives its slot, wherever it sits in the query', () => {
    const request = fc
      .tuple(enginePaths, fc.nat(), fc.constantFrom('', 'x', 'a/b'), slot, fc.array(otherParam, { maxLength: 4 }), fc.nat(), method, version)
      .chain(([paths, which, extra, n, others, at, m, v]) =>
        localSid(n).map((sid) => {
          const params = [...others];
          params.splice(at % (params.length + 1), 0, `sid=${sid}`);
          const target = `${paths[which % paths.length]!}${extra}?${params.join('&')}`;
          return { paths, n, line: `${m} ${target}${v === '' ? '' : ` ${v}`}` };
        }),
      );
    fc.assert(
      fc.property(request, ({ paths, n, line }) => {
        assert.equal(slotOfRequestLine(line, paths, `${LOCAL}.`), n);
        const router = new SidRouter(new EngineSessions(LOCAL, paths));
        const request = { remoteAddress: '127.0.0.1', url: targetOfLine(line), header: () => undefined };
        assert.equal(router.namedSlot(request), n);
        assert.equal(router.route(request, [{ slot: n, load: 9 }, { slot: n === 0 ? 1 : 0, load: 0 }]), n);
      }),
      runs(1000),
    );
  });

  test('a sid anywhere but the sid parameter of an announced path gives -1', () => {
    const misplaced = fc
      .tuple(enginePaths, slot, fc.array(otherParam, { maxLength: 3 }), method)
      .chain(([paths, n, others, m]) => {
        const query = others.join('&');
        const announced = paths[0]!;
        return fc.oneof(
          // On a path no worker announced.
          fc
            .tuple(localSid(n), fc.constantFrom('/', '/health', '/socket.iox/', '/x/socket.io/', '/socket.io', announced.slice(0, -1), `/${announced}`))
            .filter(([, path]) => !paths.some((p) => path.startsWith(p)))
            .map(([sid, path]) => `${path}?${query}&sid=${sid}`),
          // In a parameter that is not sid.
          fc.tuple(localSid(n), fc.constantFrom('xsid=', 'SID=', 'Sid=', 'sid%3D', 'sid:', 'x=sid=', 'EIO=4#sid=', '#sid=', 'sid', 'sid=x&a=')).map(([sid, key]) => `${announced}?${query}&${key}${sid}`),
          // In the path, with no query at all.
          localSid(n).map((sid) => `${announced}sid=${sid}`),
          // Past the end of the target.
          localSid(n).map((sid) => `${announced}?${query} HTTP/1.1?sid=${sid}`),
        ).map((target) => ({ paths, line: `${m} ${target}` }));
      });
    fc.assert(
      fc.property(misplaced, ({ paths, line }) => {
        assert.equal(slotOfRequestLine(line, paths, `${LOCAL}.`), -1, line);
      }),
      runs(1000),
    );
  });
});

/** Mostly well-formed pieces, so most inputs get past the first check and reach the next. */
const often = <T>(good: fc.Arbitrary<T>, ...bad: fc.Arbitrary<T>[]): fc.Arbitrary<T> => fc.oneof({ arbitrary: good, weight: 3 * bad.length }, ...bad);
const port = often(fc.integer({ min: 1, max: 65535 }).map(String), fc.integer({ min: -5, max: 70_000 }).map(String), fc.constantFrom('', '0', '65536', '080', '1e3', ' 80', 'x'), fc.string({ maxLength: 6 }));
const address = often(
  fc.oneof(fc.ipV4(), fc.ipV6().map((a) => `[${a}]`), fc.domain(), fc.domain().map((d) => d.toUpperCase())),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.constantFrom('[::1%eth0]', '[::1', '[1.2.3.4]', '1.2.3', '256.1.1.1', '01.2.3.4', 'localhost', '999', 'a..b', '-a.b', 'a.1', '[]', '[::ffff:1.2.3.4]', '[fe80::1%25lo]', ''),
  fc.string({ maxLength: 10 }),
);
const entry = fc
  .tuple(often(hostId, fc.string({ maxLength: 5 }), fc.constantFrom('', 'A', '-a', 'a.b', 'a-')), often(fc.constant('='), fc.constantFrom('', '==', ':')), address, often(fc.constant(':'), fc.constantFrom('', '::', '=')), port, fc.constantFrom('', '', ' ', '\t'))
  .map(([id, eq, addr, colon, p, pad]) => `${pad}${id}${eq}${addr}${colon}${p}${pad}`);
const hostsText = often(fc.array(entry, { minLength: 1, maxLength: 5 }).map((e) => e.join(',')), fc.array(entry, { maxLength: 3 }).map((e) => e.join(', ,')), fc.string({ unit: 'binary' }), fc.constantFrom(',', ' , ', '', ' '));

/** Whether an LbPlan came back frozen, or the error is the documented one, naming one of `flags`. */
function planOrBadOption(input: LbInput, flags: readonly string[]): void {
  let plan;
  try {
    plan = resolveLbPlan(input);
  } catch (err) {
    assert.ok(err instanceof CorralError, `not a CorralError: ${String(err)}`);
    assert.equal(err.code, 'ERR_CORRAL_BAD_OPTION');
    const flag = /^bad option --([a-z-]+): /.exec(err.message)?.[1];
    assert.ok(flag !== undefined && flags.includes(flag), `names no flag of ${flags.join(', ')}: ${err.message}`);
    return;
  }
  assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.hosts));
  assert.ok(plan.hosts.length > 0);
}

/** Whether two IPv6 addresses are one, judged by Node's own parser (not the URL parser src/ uses). */
function sameIPv6(a: string, b: string): boolean {
  const list = new BlockList();
  list.addAddress(a, 'ipv6');
  return list.check(b, 'ipv6');
}

describe('lb-config --hosts (property-based)', () => {
  test('any --hosts text gives a plan or ERR_CORRAL_BAD_OPTION naming --hosts, never another error', () => {
    fc.assert(
      fc.property(hostsText, (hosts) => planOrBadOption({ hosts }, ['hosts'])),
      runs(2000),
    );
  });

  test('any mix of --hosts, --listen, --slot-ports and --workers gives a plan or an error naming one of them', () => {
    const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
    const input = fc.record({
      hosts: maybe(hostsText),
      listen: maybe(fc.oneof(port, fc.tuple(address, port).map(([a, p]) => `${a}:${p}`))),
      slotPorts: maybe(port),
      workers: maybe(fc.oneof(fc.integer({ min: -1, max: 2000 }).map(String), fc.string({ maxLength: 4 }))),
    });
    fc.assert(
      fc.property(input, (i) => planOrBadOption(i, ['hosts', 'listen', 'slot-ports', 'workers'])),
      runs(2000),
    );
  });

  test('a valid host list comes back with its ids, addresses and ports, in order', () => {
    const addr = fc.oneof(
      fc.ipV4().map((a) => ({ text: a, kind: 'ipv4' as const })),
      fc.ipV6().map((a) => ({ text: `[${a}]`, kind: 'ipv6' as const })),
      fc.tuple(fc.domain(), fc.boolean()).map(([d, upper]) => ({ text: upper ? d.toUpperCase() : d, kind: 'name' as const })),
    );
    const sameEndpoint = (a: Wanted, b: Wanted): boolean =>
      a.port === b.port && a.addr.kind === b.addr.kind && (a.addr.kind === 'ipv6' ? sameIPv6(a.addr.text.slice(1, -1), b.addr.text.slice(1, -1)) : a.addr.text.toLowerCase() === b.addr.text.toLowerCase());
    type Wanted = { id: string; addr: { text: string; kind: 'ipv4' | 'ipv6' | 'name' }; port: number; pad: string };
    // Two ids on one address and port are refused by design: such lists are not valid input.
    const list = fc
      .uniqueArray(fc.record({ id: hostId, addr, port: fc.integer({ min: 1, max: 65535 }), pad: fc.constantFrom('', ' ') }), { minLength: 1, maxLength: 6, selector: (h) => h.id })
      .filter((hosts) => hosts.every((h, i) => hosts.slice(0, i).every((g) => !sameEndpoint(g, h))));
    fc.assert(
      fc.property(list, (hosts) => {
        const plan = resolveLbPlan({ hosts: hosts.map((h) => `${h.pad}${h.id}=${h.addr.text}:${h.port}${h.pad}`).join(',') });
        assert.deepEqual(plan.hosts.map((h) => [h.id, h.kind, h.port]), hosts.map((h) => [h.id, h.addr.kind, h.port]));
        plan.hosts.forEach((got, i) => {
          const want = hosts[i]!.addr;
          if (want.kind === 'ipv6') {
            assert.ok(sameIPv6(want.text.slice(1, -1), got.address), `${got.address} is not ${want.text}`);
            assert.equal(got.address, got.address.toLowerCase());
          } else {
            assert.equal(got.address, want.text.toLowerCase());
          }
        });
      }),
      runs(1000),
    );
  });
});

const APP = fixture('echo-io.js');
function circular(): unknown[] {
  const a: unknown[] = [];
  a.push(a);
  return a;
}
const flagOf = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
/** What a user might put in any option: right types, wrong types, edges, near-misses. */
const optionValue = fc.oneof(
  // BigInt, circular and null-prototype values included: each must be a clear ERR_CORRAL_BAD_OPTION.
  fc.anything({ withBigInt: true, withNullPrototype: true }),
  fc.constant(circular()),
  fc.integer({ min: -10, max: 70_000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, 2 ** 31, 2 ** 53, NaN, Infinity, -Infinity, 1.5, null, undefined, true, false, '', ' ', '0', ' 42 ', '1e3', '0x10', '-1'),
  fc.nat({ max: 10 ** 8 }).map(String),
  fc.constantFrom('auto', 'sid', 'ip', 'none', 'SID', 'cluster', 'redis', 'redis-streams', 'redis://127.0.0.1:6379', 'rediss://:pw@h:1/0', 'redis://', 'http://x', '512M', '1G', '1K', '2g', '1.5G', '127.0.0.1', '::', 'web-1', 'Web-1'),
  fc.string(),
);
const valueFor = (name: keyof CorralOptions): fc.Arbitrary<unknown> =>
  name === 'appArgs' ? fc.oneof(fc.option(fc.array(fc.string()), { nil: undefined }), optionValue) : optionValue;
const tunable = OPTION_NAMES.filter((n) => n !== 'app');

/** A frozen, sane config, or ERR_CORRAL_BAD_OPTION whose message names one of `flags`. */
function configOrBadOption(input: CorralOptions, flags: readonly string[]): void {
  let config;
  try {
    config = resolveConfig(input, {});
  } catch (err) {
    assert.ok(err instanceof CorralError, `not a CorralError: ${String(err)}`);
    assert.equal(err.code, 'ERR_CORRAL_BAD_OPTION', err.message);
    const named = /^(?:bad|unknown) option (--[a-z-]+) /.exec(err.message)?.[1];
    assert.ok(named !== undefined && flags.includes(named), `names none of ${flags.join(', ')}: ${err.message}`);
    return;
  }
  assert.ok(Object.isFrozen(config));
  assert.match(config.hostId, HOST_ID_PATTERN);
  for (const key of ['workers', 'port', 'maxHeadBytes', 'headTimeout', 'killTimeout', 'readyTimeout', 'minUptime', 'maxRestarts', 'restartWindow', 'maxMemory', 'slotPorts', 'unresponsiveTimeout'] as const) {
    assert.ok(Number.isSafeInteger(config[key]) && config[key] >= 0, `${key} = ${config[key]}`);
  }
}

describe('options (property-based)', () => {
  test('any value of any one option gives a frozen config or ERR_CORRAL_BAD_OPTION naming its --flag', () => {
    const one = fc.constantFrom(...tunable).chain((name) => valueFor(name).map((value) => ({ name, value })));
    fc.assert(
      // --adapter redis alone is refused as a missing --redis.
      fc.property(one, ({ name, value }) => configOrBadOption({ app: APP, [name]: value } as CorralOptions, name === 'adapter' ? ['--adapter', '--redis'] : [flagOf(name)])),
      runs(2000),
    );
  });

  test('any set of options gives a frozen config or an error naming one of the given --flags', () => {
    const many = fc.uniqueArray(fc.constantFrom(...tunable), { maxLength: 6 }).chain((names) => fc.tuple(...names.map((n) => valueFor(n).map((v) => [n, v] as const))));
    fc.assert(
      fc.property(many, (pairs) => {
        const input = { app: APP, ...Object.fromEntries(pairs) } as CorralOptions;
        const flags = pairs.map(([n]) => flagOf(n));
        configOrBadOption(input, flags.includes('--adapter') ? [...flags, '--redis'] : flags);
      }),
      runs(1000),
    );
  });

  test('any app value gives a config, ERR_CORRAL_APP_NOT_FOUND, or ERR_CORRAL_BAD_OPTION about the app', () => {
    fc.assert(
      fc.property(fc.oneof(optionValue, fc.constantFrom(APP, 'package.json', '.', 'test', `${APP}/`, `${APP}\0`)), (app) => {
        try {
          assert.ok(Object.isFrozen(resolveConfig({ app } as CorralOptions, {})));
        } catch (err) {
          assert.ok(err instanceof CorralError, `not a CorralError: ${String(err)}`);
          if (err.code === 'ERR_CORRAL_BAD_OPTION') assert.match(err.message, /\bapp\b/);
          else assert.equal(err.code, 'ERR_CORRAL_APP_NOT_FOUND');
        }
      }),
      runs(500),
    );
  });

  test('an unknown option name is refused, naming it', () => {
    const unknown = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !(OPTION_NAMES as readonly string[]).includes(k));
    fc.assert(
      fc.property(unknown, optionValue, (key, value) => {
        assert.throws(() => resolveConfig({ app: APP, [key]: value } as CorralOptions, {}), (err: unknown) => err instanceof CorralError && err.code === 'ERR_CORRAL_BAD_OPTION' && err.message.startsWith('unknown option'));
      }),
      runs(500),
    );
  });

  test('defaultHostId turns any host name into a valid host id, and keeps a valid first label as it is', () => {
    const name = fc.oneof(anyString, fc.string({ unit: fc.constantFrom('A', 'z', '0', '-', '_', '.', ' ', '\u0130', '\u212a', 'ß') }), fc.tuple(hostId, anyString).map(([h, rest]) => `${h}.${rest}`));
    fc.assert(
      fc.property(name, (n) => assert.match(defaultHostId(n), HOST_ID_PATTERN)),
      runs(2000),
    );
    fc.assert(
      fc.property(hostId, fc.option(anyString, { nil: undefined }), (h, rest) => assert.equal(defaultHostId(rest === undefined ? h : `${h}.${rest}`), h)),
      runs(1000),
    );
  });
});

const HEAD_TIMEOUT_MS = 300;
const MAX_HEAD = 1024;
/** Longest a connection may go unanswered: the head timeout, its sweep, a worker's own header timeout, slack for a busy box. */
const ANSWER_DEADLINE_MS = 5000;
const HOST_ID = 'fz';

/** One connection's bytes and what must come back: a status, or one of several, or just some answer or a close. */
interface Probe {
  readonly bytes: Buffer;
  readonly expect: readonly number[] | 'any';
}

const headerName = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/).map((n) => `X-${n}`);
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const targetChars = fc.constantFrom(...B64URL, '.', '-', '~', '%41', '%2E', '=', '+', '!', '*', ':', '@', '/');
const sidParam = fc.oneof(
  slot.map((n) => `sid=${generateSid(HOST_ID, n)}`),
  fc.integer({ min: 0, max: 3 }).map((n) => `sid=${generateSid(HOST_ID, n)}`),
  hostId.map((h) => `sid=${generateSid(h, 0)}`),
  fc.string({ unit: targetChars, maxLength: 30 }).map((v) => `sid=${v}`),
  fc.constantFrom('sid=', 'sid', `sid=${HOST_ID}.`, `sid=${HOST_ID}.0.`, `sid=${HOST_ID}.zzzzzzz.x`, 'xsid=1.2.3'),
);
const query = fc.option(fc.array(fc.oneof(sidParam, fc.constantFrom('EIO=4', 'transport=polling', 'a=b')), { minLength: 1, maxLength: 3 }).map((ps) => `?${ps.join('&')}`), { nil: '' });
const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }).map((hs) => hs.map(([n, v]) => `${n}: ${v}\r\n`).join(''));
const trailing = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.constant(Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')),
  fc.constant(Buffer.from('GET /he')),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
);

/** A well-formed GET of /health, however dressed: the worker answers 200. */
const healthProbe: fc.Arbitrary<Probe> = fc
  .record({ crlfs: fc.integer({ min: 0, max: 3 }), query, version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), headers, trailing })
  .map((r) => ({ bytes: Buffer.concat([Buffer.from(`${'\r\n'.repeat(r.crlfs)}GET /health${r.query} ${r.version}\r\nHost: x\r\n${r.headers}\r\n`, 'latin1'), r.trailing]), expect: [200] }));

/** A polling request of a session nobody has (forged, foreign, of a slot that is or is not there): Engine.IO's 400. */
const forgedSessionProbe: fc.Arbitrary<Probe> = fc
  .tuple(sidParam, headers)
  // No sid value at all is a handshake instead: 200.
  .map(([sid, hs]) => ({ bytes: Buffer.from(`GET /socket.io/?EIO=4&transport=polling&${sid} HTTP/1.1\r\nHost: x\r\n${hs}\r\n`, 'latin1'), expect: sid.startsWith('sid=') && sid.length > 4 ? [400] : [200] }));

/** Bytes that are no HTTP request: an answer the primary or a worker chose, or a close. */
const garbageProbe: fc.Arbitrary<Probe> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b): Probe => ({ bytes: Buffer.from(b), expect: 'any' })),
  fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.constantFrom('\n', '\r\n', '\r\n\r\n'), fc.uint8Array({ maxLength: 100 })).map(([a, lf, b]): Probe => ({ bytes: Buffer.concat([a, Buffer.from(lf), b]), expect: 'any' })),
  fc.uint8Array({ minLength: MAX_HEAD, maxLength: 3000 }).map((b): Probe => ({ bytes: Buffer.from(b.map((c) => (c === 0x0a ? 0x20 : c))), expect: [414] })),
  fc.integer({ min: 1, max: 300 }).map((n): Probe => ({ bytes: Buffer.alloc(n), expect: [408] })),
  fc.uint8Array({ maxLength: 100 }).map((b): Probe => ({ bytes: Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), b]), expect: 'any' })),
  fc.array(fc.constantFrom('\r', '\n', '\r\n', '\n\r'), { minLength: 1, maxLength: 6 }).map((parts): Probe => ({ bytes: Buffer.from(parts.join('')), expect: [408] })),
  fc.tuple(fc.integer({ min: MAX_HEAD, max: 6000 }), fc.boolean()).map(([n, ends]): Probe => ({ bytes: Buffer.from(`GET /${'a'.repeat(n)}${ends ? ' HTTP/1.1\r\nHost: x\r\n\r\n' : ''}`), expect: [414] })),
  fc.integer({ min: 1, max: 20 }).map((n): Probe => ({ bytes: Buffer.from('GET /health HTTP/1.1'.slice(0, n)), expect: [408] })),
);

/** A probe cut at random points into 1 to 8 writes. */
const splitProbe = fc
  .tuple(fc.oneof({ arbitrary: healthProbe, weight: 3 }, forgedSessionProbe, { arbitrary: garbageProbe, weight: 3 }), fc.integer({ min: 1, max: 8 }))
  .chain(([probe, pieces]) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, probe.bytes.length - 1) }), { minLength: 0, maxLength: pieces - 1 }).map((cuts) => ({ probe, cuts })))
  .map(({ probe, cuts }) => {
    const at = [0, ...cuts.sort((a, b) => a - b), probe.bytes.length];
    const pieces = at.slice(1).map((end, i) => probe.bytes.subarray(at[i], end)).filter((p) => p.length > 0);
    // A counterexample fast-check can print readably: the writes as latin1 text.
    return { ...probe, pieces, [fc.toStringMethod]: () => `${JSON.stringify(pieces.map((p) => p.toString('latin1')))} expecting ${String(probe.expect)}` };
  });

/** Send a probe and check what came back: a well-formed status line it allows, or a silent close; never a hang. */
async function runProbe(port: number, probe: Probe & { pieces: Buffer[] }): Promise<void> {
  const r = await rawExchange(port, probe.pieces, (t) => t.includes('\r\n\r\n'), ANSWER_DEADLINE_MS);
  const what = JSON.stringify(probe.bytes.toString('latin1').slice(0, 120));
  assert.ok(r.matched || r.closed, `no answer and no close within ${ANSWER_DEADLINE_MS} ms for ${what}`);
  if (r.text === '') {
    assert.ok(probe.expect === 'any', `closed without a word, expected ${String(probe.expect)}, for ${what}`);
    return;
  }
  const status = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/.exec(r.text)?.[1];
  assert.ok(status !== undefined && r.matched, `not a whole HTTP head: ${JSON.stringify(r.text.slice(0, 120))} for ${what}`);
  const allowed = probe.expect === 'any' ? [400, 404, 408, 414, 503] : probe.expect;
  assert.ok(allowed.includes(Number(status)), `got ${status}, expected ${allowed.join('/')}, for ${what}`);
}

describe('the head reader against a real corral (property-based)', () => {
  let corral: Running;
  before(async () => {
    corral = await startCorral('suite', fixture('echo-io.js'), {
      args: ['--head-timeout', String(HEAD_TIMEOUT_MS), '--max-head-bytes', String(MAX_HEAD), '--host-id', HOST_ID],
    });
  });
  after(() => corral?.stop());

  test('every request head, however split, and every garbage gets a status line or a close, never a hang', { timeout: 120_000 }, async () => {
    const primary = Number(/primary \(pid (\d+)\)/.exec(corral.output())?.[1]);
    assert.equal(primary, corral.proc.pid);
    // A few connections at once, so the primary reads several heads interleaved.
    await fc.assert(
      fc.asyncProperty(fc.array(splitProbe, { minLength: 1, maxLength: 6 }), async (probes) => {
        await Promise.all(probes.map((p) => runProbe(corral.port, p)));
      }),
      { ...runs(40), endOnFailure: true },
    );
    assert.ok(corral.proc.exitCode === null && corral.proc.signalCode === null, `primary ${primary} exited`);
    process.kill(primary, 0);
    assert.doesNotMatch(corral.output(), /starting a new worker/, 'no worker died');
    const health = await exchange(`${corral.url}/health`, { agent: false });
    assert.equal(health.status, 200);
    const all = await Promise.all(Array.from({ length: 20 }, () => exchange(`${corral.url}/health`, { agent: false })));
    assert.deepEqual(all.map((r) => r.status), Array(20).fill(200));
  });
});

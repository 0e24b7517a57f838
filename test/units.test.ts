import assert from 'node:assert/strict';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CorralError } from '../src/errors';
import { defaultHostId, OPTION_NAMES, resolveConfig, type CorralOptions } from '../src/options';
import { IpRouter } from '../src/routing/ip';
import { LeastLoaded } from '../src/primary/least-loaded';
import type { Candidate } from '../src/routing/types';
import { Backoff } from '../src/supervisor/backoff';
import { transition, type WorkerState } from '../src/supervisor/worker-state';
import { fixture } from './helpers/corral';

const APP = fixture('echo-io.js');
const flagOf = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
/** No $PORT or $XDG_RUNTIME_DIR from the machine running the tests. */
const ENV = {};
const config = (options: Omit<CorralOptions, 'app'> = {}, env: NodeJS.ProcessEnv = ENV): ReturnType<typeof resolveConfig> => resolveConfig({ app: APP, ...options }, env);

/** Assert the options are refused with ERR_CORRAL_BAD_OPTION, the message naming `flag`. */
function refused(options: Omit<CorralOptions, 'app'>, flag: string): void {
  assert.throws(
    () => config(options),
    (err: unknown) => err instanceof CorralError && err.code === 'ERR_CORRAL_BAD_OPTION' && err.message.includes(`${flag} `),
    `${JSON.stringify(options)} should be refused naming ${flag}`,
  );
}

describe('Backoff', () => {
  test('the first delay is the base and each failure doubles it until the cap', () => {
    const backoff = new Backoff(100, 1000);
    assert.deepEqual(Array.from({ length: 7 }, () => backoff.next()), [100, 200, 400, 800, 1000, 1000, 1000]);
  });

  test('a cap that is not the base times a power of two is reached exactly', () => {
    const backoff = new Backoff(100, 750);
    assert.deepEqual(Array.from({ length: 5 }, () => backoff.next()), [100, 200, 400, 750, 750]);
  });

  test('failures counts every delay handed out', () => {
    const backoff = new Backoff(10, 20);
    assert.equal(backoff.failures, 0);
    for (let i = 1; i <= 5; i++) {
      backoff.next();
      assert.equal(backoff.failures, i);
    }
  });

  test('reset starts again from the base', () => {
    const backoff = new Backoff(100, 10_000);
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.reset();
    assert.equal(backoff.failures, 0);
    assert.deepEqual([backoff.next(), backoff.next()], [100, 200]);
  });

  test('the defaults are 100 ms doubling to 10 s', () => {
    const backoff = new Backoff();
    assert.deepEqual(Array.from({ length: 9 }, () => backoff.next()), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  });

  test('after a very long run of failures the delay stays at the cap', () => {
    const backoff = new Backoff(100, 5000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = backoff.next();
    assert.equal(last, 5000);
  });
});

/** Every integer option with its accepted range, as the README documents it. */
const RANGES: readonly [keyof CorralOptions, string, number, number][] = [
  ['port', '--port', 0, 65535],
  ['workers', '--workers', 1, 1024],
  ['maxHeadBytes', '--max-head-bytes', 64, 1_048_576],
  ['headTimeout', '--head-timeout', 10, 600_000],
  ['killTimeout', '--kill-timeout', 0, 3_600_000],
  ['readyTimeout', '--ready-timeout', 100, 3_600_000],
  ['minUptime', '--min-uptime', 0, 3_600_000],
  ['maxRestarts', '--max-restarts', 1, 1_000_000],
  ['restartWindow', '--restart-window', 100, 86_400_000],
  ['unresponsiveTimeout', '--unresponsive-timeout', 0, 86_400_000],
];

describe('options', () => {
  for (const [name, flag, min, max] of RANGES) {
    test(`${flag} accepts ${min} and ${max}, as numbers and as strings, and refuses ${min - 1} and ${max + 1}`, () => {
      for (const value of [min, max, String(min), String(max)]) assert.equal(config({ [name]: value })[name as keyof ReturnType<typeof config>], Number(value), `${flag} ${value}`);
      refused({ [name]: min - 1 }, flag);
      refused({ [name]: max + 1 }, flag);
      refused({ [name]: String(max + 1) }, flag);
    });
  }

  test('--slot-ports accepts 1 and 65535 (one worker), takes 0 as off, and refuses -1 and 65536', () => {
    assert.equal(config({ slotPorts: 1, workers: 1, port: 0 }).slotPorts, 1);
    assert.equal(config({ slotPorts: 65535, workers: 1, port: 0 }).slotPorts, 65535);
    assert.equal(config({ slotPorts: 0, workers: 1 }).slotPorts, 0);
    refused({ slotPorts: -1, workers: 1, port: 0 }, '--slot-ports');
    refused({ slotPorts: 65536, workers: 1, port: 0 }, '--slot-ports');
  });

  test('--max-memory accepts 1M up to the largest safe integer, takes 0 as no limit, and refuses one byte less than 1M or past it', () => {
    assert.equal(config({ maxMemory: 1024 * 1024 }).maxMemory, 1024 * 1024);
    assert.equal(config({ maxMemory: '1M' }).maxMemory, 1024 * 1024);
    assert.equal(config({ maxMemory: '2g' }).maxMemory, 2 * 1024 ** 3);
    assert.equal(config({ maxMemory: Number.MAX_SAFE_INTEGER }).maxMemory, Number.MAX_SAFE_INTEGER);
    assert.equal(config({ maxMemory: 0 }).maxMemory, 0);
    assert.equal(config().maxMemory, 0);
    refused({ maxMemory: 1024 * 1024 - 1 }, '--max-memory');
    refused({ maxMemory: '1023K' }, '--max-memory');
    refused({ maxMemory: Number.MAX_SAFE_INTEGER + 1 }, '--max-memory');
  });

  test('--recovery-memory is 64M by default, accepts 1M and up, and refuses 0 (it has no "no limit") naming what was given', () => {
    assert.equal(config().recoveryMemory, 64 * 1024 ** 2);
    assert.equal(config({ recoveryMemory: '1M' }).recoveryMemory, 1024 * 1024);
    assert.throws(() => config({ recoveryMemory: 0 }), /--recovery-memory \(recoveryMemory\): expected a size of at least 1M, e\.g\. 64M, got 0\./);
    refused({ recoveryMemory: '512K' }, '--recovery-memory');
  });

  test("workers 'auto', and no workers option, mean one per core", () => {
    assert.equal(config({ workers: 'auto' }).workers, availableParallelism());
    assert.equal(config().workers, availableParallelism());
  });

  test('--redis alone selects the redis-streams adapter', () => {
    const c = config({ redis: 'redis://127.0.0.1:6379' });
    assert.equal(c.adapter, 'redis-streams');
    assert.equal(c.redis, 'redis://127.0.0.1:6379');
  });

  test('with neither --adapter nor --redis the adapter is cluster, with no Redis URL', () => {
    const c = config();
    assert.equal(c.adapter, 'cluster');
    assert.equal(c.redis, '');
  });

  test('--adapter cluster with --redis is refused', () => {
    refused({ adapter: 'cluster', redis: 'redis://127.0.0.1:6379' }, '--redis');
  });

  test('--adapter redis or redis-streams without --redis is refused', () => {
    refused({ adapter: 'redis' }, '--redis');
    refused({ adapter: 'redis-streams' }, '--redis');
    assert.equal(config({ adapter: 'redis', redis: 'rediss://:pw@127.0.0.1:6380/2' }).adapter, 'redis');
  });

  test('--slot-ports overlapping the public port is refused, and a range just beside it is not', () => {
    refused({ port: 3000, workers: 4, slotPorts: 3000 }, '--slot-ports');
    refused({ port: 3000, workers: 4, slotPorts: 2997 }, '--slot-ports');
    assert.equal(config({ port: 3000, workers: 4, slotPorts: 2996 }).slotPorts, 2996);
    assert.equal(config({ port: 3000, workers: 4, slotPorts: 3001 }).slotPorts, 3001);
  });

  test('--slot-ports running past 65535 is refused, and a range ending on 65535 is not', () => {
    refused({ port: 3000, workers: 4, slotPorts: 65533 }, '--slot-ports');
    assert.equal(config({ port: 3000, workers: 4, slotPorts: 65532 }).slotPorts, 65532);
  });

  test('a BigInt, circular or null-prototype value of any option is ERR_CORRAL_BAD_OPTION naming it, not a TypeError', () => {
    const circular = (): unknown[] => {
      const a: unknown[] = [];
      a.push(a);
      return a;
    };
    for (const name of OPTION_NAMES.filter((n) => n !== 'app')) {
      // A null-prototype object is a fine (empty) map of variables for `env`.
      for (const value of [3000n, circular(), ...(name === 'env' ? [] : [Object.create(null) as unknown])]) {
        assert.throws(
          () => resolveConfig({ app: APP, [name]: value } as CorralOptions, ENV),
          (e: unknown) => e instanceof CorralError && e.code === 'ERR_CORRAL_BAD_OPTION' && e.message.includes(`${flagOf(name)} `),
          name,
        );
      }
    }
  });

  test('appArgs must be an array of strings, and stays frozen', () => {
    for (const value of [5, 'abc', [1, {}], {}, true]) {
      assert.throws(
        () => resolveConfig({ app: APP, appArgs: value } as unknown as CorralOptions, ENV),
        (e: unknown) => e instanceof CorralError && e.code === 'ERR_CORRAL_BAD_OPTION' && /--app-args /.test(e.message),
        JSON.stringify(value),
      );
    }
    assert.ok(Object.isFrozen(config({ appArgs: ['--verbose'] }).appArgs));
  });

  test('control must be a string path', () => {
    const values: unknown[] = [42, {}, Object.create(null), true, ['a']];
    values.forEach((value, i) => {
      assert.throws(
        () => resolveConfig({ app: APP, control: value } as unknown as CorralOptions, ENV),
        (e: unknown) => e instanceof CorralError && e.code === 'ERR_CORRAL_BAD_OPTION' && /--control /.test(e.message),
        `value #${i}`,
      );
    });
  });

  test('an unknown option name is refused, naming it', () => {
    assert.throws(
      () => resolveConfig({ app: APP, prot: 3000 } as CorralOptions, ENV),
      (err: unknown) => err instanceof CorralError && err.code === 'ERR_CORRAL_BAD_OPTION' && /unknown option --prot\b/.test(err.message),
    );
  });

  test('every documented option name is accepted', () => {
    const everyName: CorralOptions = { ...Object.fromEntries(OPTION_NAMES.map((n) => [n, undefined])), app: APP };
    assert.deepEqual(Object.keys(everyName).sort(), [...OPTION_NAMES].sort());
    assert.doesNotThrow(() => resolveConfig(everyName, ENV));
  });

  test('the returned config is frozen', () => {
    const c = config({ workers: 2 });
    assert.ok(Object.isFrozen(c));
    assert.equal(Reflect.set(c, 'workers', 3), false);
    assert.equal(c.workers, 2);
  });

  test('the default control path is under $XDG_RUNTIME_DIR/corral and holds the port, and the host when one is given', () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/4242' };
    assert.equal(config({ port: 4567 }, env).control, join('/run/user/4242', 'corral', '4567.sock'));
    assert.equal(config({ port: 4567, host: '127.0.0.2' }, env).control, join('/run/user/4242', 'corral', '127.0.0.2-4567.sock'));
  });

  test('with port 0 the control path is left to be derived from the bound port', () => {
    assert.equal(config({ port: 0 }).control, '');
  });

  test('--control given is used, resolved against the cwd', () => {
    assert.equal(config({ port: 4567, control: 'x.sock' }).control, join(process.cwd(), 'x.sock'));
  });

  test('the host id defaults to one derived from the hostname', () => {
    assert.equal(config().hostId, defaultHostId(hostname()));
    assert.equal(defaultHostId('Web_01.example.com'), 'web-01');
    assert.equal(defaultHostId('--__--.example.com'), 'host');
    assert.equal(config({ hostId: 'web-2' }).hostId, 'web-2');
  });
});

/** Addresses that look like real clients': IPv4 from a fixed LCG, and some IPv6 and mapped ones. */
function addresses(count: number): string[] {
  let x = 0x2545f491;
  const next = (): number => (x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0);
  return Array.from({ length: count }, (_, i) => {
    const r = next();
    if (i % 10 === 0) return `2001:db8::${(r >>> 16).toString(16)}:${(r & 0xffff).toString(16)}`;
    return `${10 + (r >>> 24) % 200}.${(r >>> 16) & 255}.${(r >>> 8) & 255}.${r & 255}`;
  });
}

const slots = (n: number): Candidate[] => Array.from({ length: n }, (_, slot) => ({ slot, load: 0 }));

describe('IpRouter (rendezvous hashing)', () => {
  const router = new IpRouter();
  const pick = (address: string, candidates: readonly Candidate[]): number => router.route({ remoteAddress: address, url: undefined, header: () => undefined }, candidates);

  test('removing one of 5 slots moves only the addresses that were on it, over 1000 addresses', () => {
    const all = slots(5);
    const clients = addresses(1000);
    for (const gone of all) {
      const rest = all.filter((c) => c !== gone);
      let moved = 0;
      for (const address of clients) {
        const before = pick(address, all);
        const after = pick(address, rest);
        if (before === gone.slot) {
          assert.notEqual(after, gone.slot);
          moved++;
        } else {
          assert.equal(after, before, `${address} moved from slot ${before} to ${after} when slot ${gone.slot} left`);
        }
      }
      assert.ok(moved > 0, `slot ${gone.slot} had no address`);
    }
  });

  test('adding a slot back gives it back exactly the addresses it had', () => {
    const all = slots(5);
    const rest = all.filter((c) => c.slot !== 2);
    for (const address of addresses(1000)) {
      const before = pick(address, all);
      pick(address, rest);
      assert.equal(pick(address, all), before);
    }
  });

  test('the choice does not depend on the order of the candidates', () => {
    const all = slots(6);
    const reversed = [...all].reverse();
    for (const address of addresses(500)) assert.equal(pick(address, reversed), pick(address, all));
  });

  test('10000 addresses spread over 4 slots within 20% of even', () => {
    const counts = [0, 0, 0, 0];
    for (const address of addresses(10_000)) counts[pick(address, slots(4))]!++;
    for (const count of counts) assert.ok(count >= 2000 && count <= 3000, `uneven: ${counts.join(', ')}`);
  });

  test('10000 consecutive addresses of one /16 also spread within 20% of even', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 10_000; i++) counts[pick(`192.168.${i >> 8}.${i & 255}`, slots(4))]!++;
    for (const count of counts) assert.ok(count >= 2000 && count <= 3000, `uneven: ${counts.join(', ')}`);
  });
});

describe('LeastLoaded', () => {
  test('picks the candidate with the least load', () => {
    const ll = new LeastLoaded();
    const candidates: Candidate[] = [
      { slot: 0, load: 5 },
      { slot: 1, load: 2 },
      { slot: 2, load: 7 },
    ];
    for (let i = 0; i < 5; i++) assert.equal(ll.pick(candidates), 1);
  });

  test('takes turns among candidates with the same least load', () => {
    const ll = new LeastLoaded();
    const idle = slots(3);
    assert.deepEqual(Array.from({ length: 7 }, () => ll.pick(idle)), [0, 1, 2, 0, 1, 2, 0]);
  });

  test('takes turns only among the least loaded, skipping busier ones', () => {
    const ll = new LeastLoaded();
    const candidates: Candidate[] = [
      { slot: 0, load: 1 },
      { slot: 3, load: 0 },
      { slot: 5, load: 4 },
      { slot: 7, load: 0 },
    ];
    assert.deepEqual(Array.from({ length: 6 }, () => ll.pick(candidates)), [3, 7, 3, 7, 3, 7]);
  });

  test('a candidate whose load drops below the rest wins at once, whoever\'s turn it was', () => {
    const ll = new LeastLoaded();
    assert.equal(ll.pick(slots(3)), 0);
    assert.equal(ll.pick([{ slot: 0, load: 1 }, { slot: 1, load: 1 }, { slot: 2, load: 0 }]), 2);
  });

  test('a single candidate is always picked, and a shrinking list never breaks the turn', () => {
    const ll = new LeastLoaded();
    for (let i = 0; i < 4; i++) ll.pick(slots(4));
    assert.equal(ll.pick([{ slot: 9, load: 100 }]), 9);
    assert.deepEqual([ll.pick(slots(2)), ll.pick(slots(2))].sort(), [0, 1]);
  });
});

/** The allowed changes, written out here from the documented life of a worker. */
const ALLOWED: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  starting: ['ready', 'draining', 'stopped'],
  ready: ['unresponsive', 'draining', 'stopped'],
  unresponsive: ['ready', 'draining', 'stopped'],
  draining: ['stopped'],
  stopped: [],
};
const STATES = Object.keys(ALLOWED) as WorkerState[];

describe('worker state transitions', () => {
  for (const from of STATES) {
    for (const to of ALLOWED[from]) {
      test(`${from} -> ${to} is allowed and returns the new state`, () => {
        assert.equal(transition(from, to, 'worker 1'), to);
      });
    }
  }

  test('every other change, staying put included, throws ERR_CORRAL_ILLEGAL_TRANSITION naming the worker and both states', () => {
    let illegal = 0;
    for (const from of STATES) {
      for (const to of STATES.filter((s) => !ALLOWED[from].includes(s))) {
        illegal++;
        assert.throws(
          () => transition(from, to, 'worker 7'),
          (err: unknown) => err instanceof CorralError && err.code === 'ERR_CORRAL_ILLEGAL_TRANSITION' && err.message.includes('worker 7') && err.message.includes(`${from} -> ${to}`),
          `${from} -> ${to}`,
        );
      }
    }
    assert.equal(illegal, 25 - 10);
  });

  test('a stopped worker goes nowhere', () => {
    for (const to of STATES) assert.throws(() => transition('stopped', to, 'worker 1'), CorralError);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { checkHaproxy, checkNginx, freePort, freePortRun, startHaproxy, startNginx, type RunningBalancer } from './helpers/balancers';
import { CLI, ROOT } from './helpers/corral';

// Two stand-in hosts on their own loopback addresses, as two machines would be.
const H1 = '127.0.1.1';
const H2 = '127.0.1.2';
const RANDOM = 'q0UfbB8Nu8ft3pWZVAFy';
const BALANCERS = ['nginx', 'haproxy'] as const;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function corral(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

async function lbConfig(balancer: string, args: string[]): Promise<string> {
  const r = await corral(['lb-config', balancer, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('corral lb-config: bad input exits 2 with a message naming it', { concurrency: 4 }, () => {
  const ok = 'h1=127.0.0.1:3000';
  const cases: [what: string, args: string[], message: RegExp][] = [
    ['no balancer', ['--hosts', ok], /bad argument <balancer>: expected "nginx" or "haproxy".*got nothing/],
    ['an unknown balancer', ['apache', '--hosts', ok], /bad argument <balancer>: .*got "apache"/],
    ['no --hosts', ['nginx'], /bad option --hosts: missing; expected ID=ADDR:PORT/],
    ['an empty --hosts', ['nginx', '--hosts', ''], /bad option --hosts: missing/],
    ['an empty entry', ['nginx', '--hosts', `${ok},,h2=127.0.0.2:3000`], /bad option --hosts: entry 2 of ".*" is empty/],
    ['an entry without "="', ['nginx', '--hosts', '127.0.0.1:3000'], /bad option --hosts: entry "127\.0\.0\.1:3000" has no "="/],
    ['an uppercase host id', ['nginx', '--hosts', 'H1=127.0.0.1:3000'], /bad option --hosts: entry "H1=127\.0\.0\.1:3000" has a host id "H1"/],
    ['a host id with "_"', ['nginx', '--hosts', 'web_1=127.0.0.1:3000'], /entry "web_1=127\.0\.0\.1:3000" has a host id "web_1"/],
    ['a host id ending in "-"', ['nginx', '--hosts', 'web-=127.0.0.1:3000'], /has a host id "web-"/],
    ['a host id of 64 characters', ['nginx', '--hosts', `${'a'.repeat(64)}=127.0.0.1:3000`], /has a host id "a{64}"/],
    ['an empty host id', ['nginx', '--hosts', '=127.0.0.1:3000'], /has a host id ""/],
    ['a missing port', ['nginx', '--hosts', 'h1=127.0.0.1'], /entry "h1=127\.0\.0\.1" has a bad address: "127\.0\.0\.1" has no ":PORT"/],
    ['an empty port', ['nginx', '--hosts', 'h1=127.0.0.1:'], /entry "h1=127\.0\.0\.1:" has a bad address: the port is missing/],
    ['port 0', ['nginx', '--hosts', 'h1=127.0.0.1:0'], /entry "h1=127\.0\.0\.1:0" has a bad address: port 0 is not from 1 to 65535/],
    ['port 65536', ['nginx', '--hosts', 'h1=127.0.0.1:65536'], /port 65536 is not from 1 to 65535/],
    ['a port that is not a number', ['nginx', '--hosts', 'h1=127.0.0.1:http'], /port "http" is not a number/],
    ['a bad IPv4 address', ['nginx', '--hosts', 'h1=127.0.0.999:3000'], /entry "h1=127\.0\.0\.999:3000" has a bad address: "127\.0\.0\.999" is not an IPv4 address/],
    ['IPv6 without brackets', ['nginx', '--hosts', 'h1=::1:3000'], /entry "h1=::1:3000" has a bad address: .*IPv6 address without brackets; write \[ADDRESS\]:PORT, e\.g\. \[::1\]:3000/],
    ['a bad IPv6 address', ['nginx', '--hosts', 'h1=[::g]:3000'], /"\[::g\]" is not an IPv6 address/],
    ['an unclosed bracket', ['nginx', '--hosts', 'h1=[::1:3000'], /"\[::1:3000" opens "\[" but never closes it/],
    ['a bad DNS name', ['nginx', '--hosts', 'h1=web_1.internal:3000'], /"web_1\.internal" is not an IPv4 address, a bracketed IPv6 address or a DNS name/],
    ['a repeated host id', ['nginx', '--hosts', `${ok},h1=127.0.0.2:3000`], /entry "h1=127\.0\.0\.2:3000" repeats host id "h1"/],
    ['a repeated address', ['nginx', '--hosts', `${ok},h2=127.0.0.1:3000`], /entry "h2=127\.0\.0\.1:3000" has the address of host "h1" \(127\.0\.0\.1:3000\)/],
    ['a repeated IPv6 address written differently', ['nginx', '--hosts', 'h1=[::1]:3000,h2=[0:0::1]:3000'], /has the address of host "h1"/],
    ['a --listen that is not an address', ['nginx', '--hosts', ok, '--listen', 'localhost:80'], /bad option --listen: "localhost" is not an IPv4 address or a bracketed IPv6 address; expected \[ADDR:\]PORT/],
    ['--listen port 0', ['nginx', '--hosts', ok, '--listen', '0'], /bad option --listen: port 0 is not from 1 to 65535/],
    ['--listen port 70000', ['haproxy', '--hosts', ok, '--listen', '127.0.0.1:70000'], /bad option --listen: port 70000 is not from 1 to 65535/],
    ['--listen without a port', ['nginx', '--hosts', ok, '--listen', '127.0.0.1:'], /bad option --listen: the port is missing/],
    ['--listen on a host\'s own address', ['nginx', '--hosts', ok, '--listen', '127.0.0.1:3000'], /bad option --listen: 127\.0\.0\.1:3000 is where host h1 serves/],
    ['--slot-ports without --workers', ['nginx', '--hosts', ok, '--slot-ports', '4000'], /bad option --slot-ports: needs --workers N.*got --slot-ports "4000" alone/],
    ['--workers without --slot-ports', ['nginx', '--hosts', ok, '--workers', '2'], /bad option --workers: only means something with --slot-ports BASE.*got --workers "2" alone/],
    ['--slot-ports 0', ['nginx', '--hosts', ok, '--slot-ports', '0', '--workers', '2'], /bad option --slot-ports: expected the BASE port .* from 1 to 65535, got "0"/],
    ['--slot-ports that is not a number', ['nginx', '--hosts', ok, '--slot-ports', 'x', '--workers', '2'], /bad option --slot-ports: .*got "x"/],
    ['--workers 0', ['nginx', '--hosts', ok, '--slot-ports', '4000', '--workers', '0'], /bad option --workers: expected .* from 1 to 1024, got "0"/],
    ['--workers 1025', ['nginx', '--hosts', ok, '--slot-ports', '4000', '--workers', '1025'], /bad option --workers: .*got "1025"/],
    ['slot ports past 65535', ['nginx', '--hosts', ok, '--slot-ports', '65535', '--workers', '2'], /bad option --slot-ports: BASE 65535 with --workers 2 needs ports up to 65536, past 65535; choose a BASE of at most 65534/],
    ['slot ports of two hosts on one address', ['nginx', '--hosts', `${ok},h2=127.0.0.1:3001`, '--slot-ports', '4000', '--workers', '2'], /bad option --slot-ports: hosts "h1" and "h2" share the address 127\.0\.0\.1/],
    ['slot ports over a public port', ['nginx', '--hosts', ok, '--slot-ports', '2999', '--workers', '4'], /bad option --slot-ports: the slot ports 2999-3002 include host "h1"'s public port 3000/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} (lb-config ${args.join(' ')})`, async () => {
      const r = await corral(['lb-config', ...args]);
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, /^corral: /);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\[ERR_CORRAL_BAD_OPTION\]\n$/);
      assert.equal(r.stdout, '');
    });
  }

  test('a flag without its value exits 2, and commander names the flag', async () => {
    const r = await corral(['lb-config', 'nginx', '--hosts']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--hosts/);
    assert.equal(r.stdout, '');
  });
});

describe('the generated configs pass the balancers\' own checks', { concurrency: 4 }, () => {
  const variants: [what: string, args: string[]][] = [
    ['two hosts, default listen', ['--hosts', 'h1=127.0.1.1:3000,h2=127.0.1.2:3000']],
    ['IPv6, a DNS name, a listen address', ['--hosts', 'web-1=[::1]:3000,web-2=localhost:3001,h3=127.0.0.1:3002', '--listen', '[::1]:8080']],
    ['slot ports, 12 workers (slot "b")', ['--hosts', 'h1=127.0.1.1:3000,h2=127.0.1.2:3000', '--listen', '127.0.0.1:8080', '--slot-ports', '4000', '--workers', '12']],
  ];
  for (const [what, args] of variants) {
    test(`nginx -t accepts the nginx config: ${what}`, async () => {
      const result = await checkNginx(await lbConfig('nginx', args));
      assert.ok(result.ok, result.output);
    });
    test(`haproxy -c accepts the HAProxy config: ${what}`, async () => {
      const result = await checkHaproxy(await lbConfig('haproxy', args));
      assert.ok(result.ok, result.output);
      assert.doesNotMatch(result.output, /WARNING/);
    });
  }

  test('the HAProxy config sends PROXY v2 to every server, health checks included, unless --no-proxy-protocol', async () => {
    const on = await lbConfig('haproxy', ['--hosts', 'h1=127.0.1.1:3000']);
    assert.match(on, /^\s+default-server inter 2s fall 2 rise 2 send-proxy-v2$/m);
    assert.match(on, /--proxy-protocol --trust-proxy/, 'it says which corral flags match');
    const off = await lbConfig('haproxy', ['--hosts', 'h1=127.0.1.1:3000', '--no-proxy-protocol']);
    assert.doesNotMatch(off.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n'), /send-proxy/);
    assert.match(off, /--no-proxy-protocol/, 'the command that wrote it says so');
    assert.match(await lbConfig('nginx', ['--hosts', 'h1=127.0.1.1:3000']), /--trust-proxy/);
  });

  test('every slot gets its own sid prefix in base36, as corral writes it', async () => {
    const args = ['--hosts', 'h1=127.0.1.1:3000', '--slot-ports', '4000', '--workers', '12'];
    const nginx = await lbConfig('nginx', args);
    const haproxy = await lbConfig('haproxy', args);
    assert.match(nginx, /~\^h1\\\.b\\\.\s+corral_host_h1_slot_11;/);
    assert.match(nginx, /upstream corral_host_h1_slot_11 \{\n\s+server 127\.0\.1\.1:4011;/);
    assert.match(haproxy, /acl sid_h1_slot_11\s+urlp\(sid\) -m beg h1\.b\./);
    assert.match(haproxy, /backend corral_host_h1_slot_11\n\s+server h1_slot_11 127\.0\.1\.1:4011\n/);
    for (const text of [nginx, haproxy]) {
      const directives = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      assert.doesNotMatch(directives, /:3000/, 'with slot ports the public port is not used');
    }
  });

  test('a balancer that refuses its config fails loudly, with its own words', async (t) => {
    const port = await freePort();
    await assert.rejects(startNginx(t, `events {}\nhttp { server { listen 127.0.0.1:${port}; bogus_directive on; } }\n`), /nginx exited[^]*unknown directive "bogus_directive"/);
    await assert.rejects(startHaproxy(t, `frontend f\n    bind 127.0.0.1:${port}\n    bogus_keyword on\n`), /haproxy exited[^]*bogus_keyword/);
  });

  test('no absolute path the user did not give', async () => {
    for (const balancer of BALANCERS) {
      const text = await lbConfig(balancer, ['--hosts', 'h1=127.0.1.1:3000']);
      const directives = text.split('\n').filter((l) => !/^\s*#/.test(l));
      assert.deepEqual(directives.filter((l) => /\s\/[a-z]/.test(l)), [], balancer);
    }
  });
});

/** A plain http server standing in for one host's corral (or one of its slot ports). */
interface StandIn {
  readonly name: string;
  hits: number;
  close(): Promise<void>;
}

async function standIn(name: string, host: string, port: number): Promise<StandIn> {
  // Each TCP connection by its own number: a balancer that closes with a reset lets the kernel
  // give the next connection the same source port at once, so address:port names two.
  const connectionIds = new WeakMap<object, number>();
  let connections = 0;
  const server: Server = createServer((req, res) => {
    state.hits++;
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, host: req.headers.host, xff: req.headers['x-forwarded-for'] ?? null, conn: `${name}#${connectionIds.get(req.socket)}` }));
    });
  });
  server.on('connection', (socket) => connectionIds.set(socket, ++connections));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => ws.send(JSON.stringify({ name, url: req.url })));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  let closing: Promise<void> | undefined;
  const state: StandIn = {
    name,
    hits: 0,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
  return state;
}

interface Answer {
  status: number;
  name?: string;
  url?: string;
  host?: string;
  xff?: string | null;
  /** The balancer's end of the connection the request came over. */
  conn?: string;
}

/** One request through the balancer on a fresh connection, bounded by a deadline. */
function ask(port: number, path: string, options: { method?: string; body?: string; localAddress?: string; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false, localAddress: options.localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve(status === 200 ? { status, ...(JSON.parse(body) as Omit<Answer, 'status'>) } : { status });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Open a WebSocket through the balancer and resolve the first message of the host it reached. */
function wsHello(port: number, path: string): Promise<{ name: string; url: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no WebSocket message through ${path} within 5 s`));
    }, 5000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(JSON.parse(String(data)) as { name: string; url: string });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const polling = (sid?: string): string => `/socket.io/?EIO=4&transport=polling${sid === undefined ? '' : `&sid=${sid}`}`;

/** Ask without a sid until every name in `expected` answered (at most `max` requests). */
async function namesWithoutSid(port: number, expected: readonly string[], max: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < max && expected.some((n) => !seen.has(n)); i++) {
    const r = await ask(port, i % 2 === 0 ? polling() : '/health');
    assert.equal(r.status, 200);
    seen.add(r.name!);
  }
  return seen;
}

/** HAProxy sends PROXY v2 by default, which only corral (with --proxy-protocol) reads. */
const plainHttp = (balancer: string): string[] => (balancer === 'haproxy' ? ['--no-proxy-protocol'] : []);

const start = (balancer: (typeof BALANCERS)[number], config: string): Promise<RunningBalancer> =>
  balancer === 'nginx' ? startNginx('suite', config) : startHaproxy('suite', config);

for (const balancer of BALANCERS) {
  describe(`${balancer} running corral lb-config's config, two hosts`, () => {
    let lb: RunningBalancer;
    let h1: StandIn;
    let h2: StandIn;
    before(async () => {
      const [p1, p2, listen] = [await freePort(H1), await freePort(H2), await freePort('127.0.0.1')];
      h1 = await standIn('h1', H1, p1);
      h2 = await standIn('h2', H2, p2);
      // The stand-ins are plain http servers: no PROXY header for them.
      lb = await start(balancer, await lbConfig(balancer, ['--hosts', `h1=${H1}:${p1},h2=${H2}:${p2}`, '--listen', `127.0.0.1:${listen}`, ...plainHttp(balancer)]));
    });
    after(async () => {
      await lb?.stop();
      await Promise.all([h1?.close(), h2?.close()]);
    });

    test('every request of a session issued by h2 reaches h2, GET and POST', async () => {
      for (let i = 0; i < 10; i++) {
        assert.equal((await ask(lb.port, polling(`h2.0.${RANDOM}`))).name, 'h2');
        assert.equal((await ask(lb.port, polling(`h2.1.${RANDOM}`), { method: 'POST', body: '42["hi"]' })).name, 'h2');
        assert.equal((await ask(lb.port, polling(`h1.0.${RANDOM}`))).name, 'h1');
      }
    });

    test('a sid that only starts like a host id is not taken for it', async () => {
      // "h2x." is not "h2.": it names no host here, so it is balanced like a handshake.
      const seen = new Set<string>();
      for (let i = 0; i < 20 && seen.size < 2; i++) seen.add((await ask(lb.port, polling(`h2x.0.${RANDOM}`))).name!);
      assert.deepEqual([...seen].sort(), ['h1', 'h2']);
    });

    test('handshakes and other requests without a sid reach both hosts', async () => {
      assert.deepEqual([...(await namesWithoutSid(lb.port, ['h1', 'h2'], 40))].sort(), ['h1', 'h2']);
    });

    test('each Engine.IO handshake reaches its host over a fresh connection (so the host picks the worker); other requests reuse pooled ones', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const handshakes = new Set<string>();
        const others = new Set<string>();
        for (let i = 0; i < 10; i++) handshakes.add((await ask(lb.port, polling(), { agent })).conn!);
        for (let i = 0; i < 10; i++) others.add((await ask(lb.port, '/health', { agent })).conn!);
        assert.equal(handshakes.size, 10, 'a handshake went over a reused upstream connection');
        assert.ok(others.size < 10, 'requests without EIO were not pooled');
      } finally {
        agent.destroy();
      }
    });

    test('a WebSocket upgrade passes, to the host its sid names', async () => {
      for (const name of ['h1', 'h2']) {
        const hello = await wsHello(lb.port, `/socket.io/?EIO=4&transport=websocket&sid=${name}.0.${RANDOM}`);
        assert.equal(hello.name, name);
      }
      const handshake = await wsHello(lb.port, '/socket.io/?EIO=4&transport=websocket');
      assert.ok(['h1', 'h2'].includes(handshake.name));
    });

    test('the backend sees the client address in X-Forwarded-For, and the Host it was asked for', async () => {
      const r = await ask(lb.port, polling(`h1.0.${RANDOM}`), { localAddress: '127.0.0.3' });
      assert.equal(r.name, 'h1');
      assert.match(r.xff ?? '', /(^|, )127\.0\.0\.3$/);
      assert.equal(r.host, `127.0.0.1:${lb.port}`);
      assert.equal(r.url, polling(`h1.0.${RANDOM}`));
    });

    // Last: it leaves h1 closed.
    test('with h1 down, every request without a sid reaches h2, and h1\'s sessions are not sent elsewhere', async () => {
      await h1.close();
      for (let i = 0; i < 20; i++) {
        const r = await ask(lb.port, i % 2 === 0 ? polling() : '/health');
        assert.equal(r.status, 200, `request ${i}`);
        assert.equal(r.name, 'h2');
      }
      const lost = await ask(lb.port, polling(`h1.0.${RANDOM}`));
      assert.ok(lost.status >= 500, `a session of h1 answered ${lost.status}`);
    });
  });

  describe(`${balancer} running corral lb-config's config, two hosts with --slot-ports`, () => {
    let lb: RunningBalancer;
    const slots = new Map<string, StandIn>();
    let publics: StandIn[] = [];
    before(async () => {
      // The public ports are listened on (and must get nothing) before the slot ports are chosen.
      const [p1, p2, listen] = [await freePort(H1), await freePort(H2), await freePort('127.0.0.1')];
      publics = [await standIn('public-h1', H1, p1), await standIn('public-h2', H2, p2)];
      const base = await freePortRun(2, [H1, H2]);
      for (const [host, address] of [['h1', H1], ['h2', H2]] as const) {
        for (const slot of [0, 1]) slots.set(`${host}/${slot}`, await standIn(`${host}/${slot}`, address, base + slot));
      }
      const args = ['--hosts', `h1=${H1}:${p1},h2=${H2}:${p2}`, '--listen', `127.0.0.1:${listen}`, '--slot-ports', String(base), '--workers', '2'];
      lb = await start(balancer, await lbConfig(balancer, [...args, ...plainHttp(balancer)]));
    });
    after(async () => {
      await lb?.stop();
      await Promise.all([...slots.values(), ...publics].map((s) => s.close()));
    });

    test('a sid reaches the exact worker slot of the host that issued it', async () => {
      for (let i = 0; i < 5; i++) {
        for (const target of ['h1/0', 'h1/1', 'h2/0', 'h2/1']) {
          const [host, slot] = target.split('/');
          assert.equal((await ask(lb.port, polling(`${host}.${slot}.${RANDOM}`))).name, target);
        }
      }
    });

    test('a sid naming a slot beyond --workers still reaches its host', async () => {
      for (let i = 0; i < 6; i++) assert.match((await ask(lb.port, polling(`h2.z.${RANDOM}`))).name!, /^h2\//);
    });

    test('requests without a sid reach every slot of every host, and never a public port', async () => {
      const all = ['h1/0', 'h1/1', 'h2/0', 'h2/1'];
      assert.deepEqual([...(await namesWithoutSid(lb.port, all, 60))].sort(), all);
      assert.deepEqual(publics.map((p) => p.hits), [0, 0]);
    });

    test('a WebSocket upgrade reaches the slot its sid names', async () => {
      assert.equal((await wsHello(lb.port, `/socket.io/?EIO=4&transport=websocket&sid=h2.1.${RANDOM}`)).name, 'h2/1');
    });

    test('the slot sees the client address in X-Forwarded-For', async () => {
      const r = await ask(lb.port, polling(`h1.1.${RANDOM}`), { localAddress: '127.0.0.3' });
      assert.equal(r.name, 'h1/1');
      assert.match(r.xff ?? '', /(^|, )127\.0\.0\.3$/);
    });

    // Last: it leaves h1 closed.
    test('with every slot of h1 down, every request without a sid reaches a slot of h2', async () => {
      await Promise.all([slots.get('h1/0')!.close(), slots.get('h1/1')!.close()]);
      for (let i = 0; i < 20; i++) {
        const r = await ask(lb.port, i % 2 === 0 ? polling() : '/health');
        assert.equal(r.status, 200, `request ${i}`);
        assert.match(r.name!, /^h2\//);
      }
      assert.deepEqual(publics.map((p) => p.hits), [0, 0]);
    });
  });
}

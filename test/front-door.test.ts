import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { io as connectClient, type Socket } from 'socket.io-client';
import { spawnSync } from 'node:child_process';
import { freePort, freePortRun, startHaproxy } from './helpers/balancers';
import { CLI, fixture, ROOT, startCorral } from './helpers/corral';
import { rawExchange } from './helpers/raw';

const APP = fixture('visitor-app.js');

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function v1(source: string, port: number): Buffer {
  const family = source.includes(':') ? 'TCP6' : 'TCP4';
  const destination = family === 'TCP6' ? '::1' : '127.0.0.1';
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${port} 443\r\n`, 'latin1');
}

/** A PROXY v2 header, built by hand from the spec: PROXY or LOCAL, TCP over IPv4, with optional TLV bytes. */
function v2(source: string, port: number, options: { local?: boolean; tlv?: Buffer; signature?: Buffer; length?: number } = {}): Buffer {
  const addresses = Buffer.alloc(12);
  source.split('.').forEach((octet, i) => (addresses[i] = Number(octet)));
  addresses.set([127, 0, 0, 1], 4);
  addresses.writeUInt16BE(port, 8);
  addresses.writeUInt16BE(443, 10);
  const body = Buffer.concat([addresses, options.tlv ?? Buffer.alloc(0)]);
  const head = Buffer.from([options.local ? 0x20 : 0x21, 0x11, 0, 0]);
  head.writeUInt16BE(options.length ?? body.length, 2);
  return Buffer.concat([options.signature ?? V2_SIGNATURE, head, body]);
}

const request = (path: string, headers = ''): string => `GET ${path} HTTP/1.1\r\nHost: corral\r\n${headers}Connection: close\r\n\r\n`;

interface Seen {
  slot: number;
  remoteAddress: string;
  remotePort: number;
  ip: string;
}

/** One request on its own connection, with `prefix` (a PROXY header) first; the app's JSON answer, or undefined when closed without one. */
async function ask(port: number, prefix: Buffer | string | undefined, path = '/whoami', headers = '', localAddress = '127.0.0.1'): Promise<Seen | undefined> {
  const pieces = prefix === undefined ? [request(path, headers)] : [prefix, request(path, headers)];
  const result = await rawExchange(port, pieces, () => false, 10_000, localAddress);
  const body = result.text.slice(result.text.indexOf('\r\n\r\n') + 4);
  return result.text.startsWith('HTTP/1.1 200') ? (JSON.parse(body) as Seen) : undefined;
}

describe('--proxy-protocol', () => {
  test('v1 and v2 (TCP4, TCP6, TLVs): the app sees the header\'s source as req.socket.remoteAddress, and --sticky ip routes by it', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'ip', args: ['--proxy-protocol', '--trust-proxy', '127.0.0.1'] });
    const six = await ask(corral.port, v1('2001:db8:0:0::7', 4242));
    assert.equal(six?.remoteAddress, '2001:db8::7');
    assert.equal(six?.remotePort, 4242);
    const withTlv = await ask(corral.port, v2('198.51.100.9', 999, { tlv: Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]) }));
    assert.equal(withTlv?.remoteAddress, '198.51.100.9');
    // LOCAL (a balancer's health check): the connection's own address.
    const local = await ask(corral.port, v2('198.51.100.9', 999, { local: true }));
    assert.equal(local?.remoteAddress, '127.0.0.1');

    const homes = new Map<string, Set<number>>();
    for (let i = 0; i < 40; i++) {
      const source = `203.0.113.${i + 1}`;
      const seen = new Set<number>();
      for (let r = 0; r < 3; r++) {
        const answer = await ask(corral.port, r % 2 === 0 ? v1(source, 10_000 + r) : v2(source, 10_000 + r));
        assert.equal(answer?.remoteAddress, source);
        assert.equal(answer?.remotePort, 10_000 + r);
        assert.equal(answer?.ip, source, "Express's req.ip");
        seen.add(answer!.slot);
      }
      homes.set(source, seen);
    }
    for (const [source, seen] of homes) assert.equal(seen.size, 1, `${source} on ${[...seen].join(', ')}`);
    assert.equal(new Set([...homes.values()].map((s) => [...s][0])).size, 2, 'both workers used');
  });

  test('missing, truncated, oversize, bad signature or bad length: closed unanswered; other clients are served meanwhile', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'sid', args: ['--proxy-protocol', '--head-timeout', '1000'] });
    const bad: [string, (Buffer | string)[]][] = [
      ['no header', [request('/whoami')]],
      ['v1 truncated', ['PROXY TCP4 203.0.113.1 127.0.0.1 1000']],
      ['v1 longer than 107 bytes', [`PROXY TCP4 ${'1'.repeat(120)}\r\n`, request('/whoami')]],
      ['v1 bad address', [v1('203.0.113.300', 1), request('/whoami')]],
      ['v1 bare LF', ['PROXY TCP4 203.0.113.1 127.0.0.1 1000 443\n', request('/whoami')]],
      ['v2 bad signature', [v2('203.0.113.1', 1, { signature: Buffer.from('\r\n\r\n\0\r\nQUIT\r') }), request('/whoami')]],
      ['v2 length past the bytes', [v2('203.0.113.1', 1, { length: 400 })]],
      ['v2 length past --max-head-bytes', [v2('203.0.113.1', 1, { length: 65_000 }), request('/whoami')]],
      ['v2 length too short for IPv4', [v2('203.0.113.1', 1, { length: 4 }), request('/whoami')]],
    ];
    const good = ask(corral.port, v1('203.0.113.77', 7));
    const results = await Promise.all(bad.map(([, pieces]) => rawExchange(corral.port, pieces, () => false, 5000)));
    results.forEach((result, i) => {
      assert.equal(result.closed, true, `${bad[i]![0]}: closed`);
      assert.equal(result.text, '', `${bad[i]![0]}: no answer`);
    });
    assert.equal((await good)?.remoteAddress, '203.0.113.77');
    assert.equal((await ask(corral.port, v2('203.0.113.78', 8)))?.remoteAddress, '203.0.113.78');
    await corral.waitForOutput(/closed \d+ connection\(s\): no valid PROXY protocol header/);
    assert.equal(corral.proc.exitCode, null, 'the primary is up');
  });

  test('with --trust-proxy, a peer outside it may not send a header, and without one it is a plain client', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'ip', args: ['--proxy-protocol', '--trust-proxy', '127.0.0.1/32'] });
    const forged = await rawExchange(corral.port, [v1('203.0.113.5', 5), request('/whoami')], () => false, 5000, '127.0.0.5');
    assert.equal(forged.closed, true);
    assert.equal(forged.text, '');
    await corral.waitForOutput(/PROXY protocol header from a peer not in --trust-proxy/);
    const direct = await ask(corral.port, undefined, '/whoami', '', '127.0.0.6');
    assert.equal(direct?.remoteAddress, '127.0.0.6');
    const trusted = await ask(corral.port, v1('203.0.113.5', 5));
    assert.equal(trusted?.remoteAddress, '203.0.113.5');
  });

  for (const slotPorts of [false, true]) {
    test(`a real HAProxy running corral lb-config's config (send-proxy-v2${slotPorts ? ', slot ports' : ''}): Socket.IO clients from 40 addresses keep their sessions, and the app sees each client's address`, async (t) => {
      const base = slotPorts ? await freePortRun(2, ['127.0.0.1']) : 0;
      const extra = slotPorts ? ['--slot-ports', String(base)] : [];
      const corral = await startCorral(t, APP, { sticky: 'ip', args: ['--host-id', 'h1', '--proxy-protocol', '--trust-proxy', '127.0.0.1', ...extra] });
      const listen = await freePort();
      const config = spawnSync(process.execPath, [CLI, 'lb-config', 'haproxy', '--hosts', `h1=127.0.0.1:${corral.port}`, '--listen', `127.0.0.1:${listen}`, ...(slotPorts ? ['--slot-ports', String(base), '--workers', '2'] : [])], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      assert.equal(config.status, 0, config.stderr);
      assert.match(config.stdout, /send-proxy-v2/);
      const haproxy = await startHaproxy(t, config.stdout);
      const url = `http://127.0.0.1:${haproxy.port}`;
      const clients: Socket[] = [];
      const agents: Agent[] = [];
      t.after(() => {
        clients.forEach((c) => c.close());
        agents.forEach((a) => a.destroy());
      });
      const hellos = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const localAddress = `127.0.0.${i + 2}`;
          const agent = new Agent({ keepAlive: true, localAddress });
          agents.push(agent);
          const client = connectClient(url, { agent: agent as never, transports: i % 2 === 0 ? ['polling'] : ['polling', 'websocket'], reconnection: false, timeout: 10_000 });
          clients.push(client);
          return new Promise<{ slot: number; address: string }>((resolve, reject) => {
            client.once('hello', resolve);
            client.once('connect_error', reject);
          }).then((hello) => ({ ...hello, localAddress }));
        }),
      );
      for (const hello of hellos) assert.equal(hello.address, hello.localAddress, "socket.handshake.address is the client's");
      assert.equal(new Set(hellos.map((h) => h.slot)).size, 2, 'both workers used');
      // Later requests of every session (polls, upgrades) meet it.
      const answers = await Promise.all(clients.map((c) => c.timeout(5000).emitWithAck('whoami') as Promise<{ slot: number; address: string }>));
      answers.forEach((a, i) => assert.deepEqual(a, { slot: hellos[i]!.slot, address: hellos[i]!.localAddress }));
      for (const hello of hellos.slice(0, 10)) {
        const answer = await ask(haproxy.port, undefined, '/whoami', '', hello.localAddress);
        assert.equal(answer?.remoteAddress, hello.localAddress);
        // Without slot ports the host's primary routes by the client's address: where its sessions are.
        if (!slotPorts) assert.equal(answer?.slot, hello.slot);
      }
    });
  }
});

describe('--trust-proxy and X-Forwarded-For', () => {
  const forwarded = (client: string): string => `X-Forwarded-For: 198.51.100.1, ${client}\r\n`;

  test('from a trusted peer, 40 forwarded addresses stick per address in ip mode', async (t) => {
    const corral = await startCorral(t, APP, { sticky: 'ip', args: ['--trust-proxy', '127.0.0.1'] });
    const homes = new Map<string, Set<number>>();
    for (let i = 0; i < 40; i++) {
      const client = `203.0.113.${i + 1}`;
      const seen = new Set<number>();
      for (let r = 0; r < 3; r++) seen.add((await ask(corral.port, undefined, '/whoami', forwarded(client)))!.slot);
      homes.set(client, seen);
    }
    for (const [client, seen] of homes) assert.equal(seen.size, 1, `${client} on ${[...seen].join(', ')}`);
    assert.equal(new Set([...homes.values()].map((s) => [...s][0])).size, 2, 'both workers used');
    // On one pooled connection (a balancer's keep-alive), each request still reaches its client's worker.
    const pooled = await rawExchange(
      corral.port,
      [...homes.keys()].slice(0, 8).map((client) => `GET /whoami HTTP/1.1\r\nHost: corral\r\n${forwarded(client)}\r\n`),
      (text) => (text.match(/HTTP\/1\.1 200/g) ?? []).length === 8,
      10_000,
    );
    const slots = [...pooled.text.matchAll(/"slot":(\d)/g)].map((m) => Number(m[1]));
    assert.deepEqual(slots, [...homes.values()].slice(0, 8).map((s) => [...s][0]));
  });

  for (const [name, args, from] of [
    ['from an untrusted peer', ['--trust-proxy', '127.0.0.1'], '127.0.0.9'],
    ['without --trust-proxy', [], '127.0.0.9'],
  ] as const) {
    test(`${name}, X-Forwarded-For changes nothing`, async (t) => {
      const corral = await startCorral(t, APP, { sticky: 'ip', args: [...args] });
      const slots = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const answer = await ask(corral.port, undefined, '/whoami', forwarded(`203.0.113.${i + 1}`), from);
        assert.equal(answer?.remoteAddress, from);
        slots.add(answer!.slot);
      }
      assert.equal(slots.size, 1, 'every request routed by the peer address');
    });
  }
});

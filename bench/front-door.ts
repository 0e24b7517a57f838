/**
 * What knowing the real client costs the primary: CPU per new connection (one request per
 * connection, clients over 127.0.0.2-33) for corral's ways of reading a connection, against
 * Node's cluster round-robin and `corral --sticky sid` in the same run. Prints a markdown
 * table with ratios and writes bench/results/front-door.{md,json}.
 *
 *   node --import tsx bench/front-door.ts [--runs N] [--connections N] [--out dir]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { corral, killAllContendersNow, peer, ROOT, Running, type ContenderSpec } from './contenders';
import { SPREAD } from './plan';
import { cpuMs } from './proc';
import { median, Samples } from './stats';
import { addressFor, timedPool } from './workloads/common';
import { oneShot } from './workloads/raw-http';

interface Variant {
  spec: ContenderSpec;
  /** What precedes the request on the wire (a PROXY header), per connection. */
  prefix?: (i: number) => string;
  /** Extra header lines, per connection. */
  headers?: (i: number) => string;
}

const client = (i: number): string => `203.0.113.${(i % 250) + 1}`;
/**
 * The load comes from 127.0.0.2-33 (SPREAD), the readiness probe from 127.0.0.1: trusting only
 * the former lets the probe through as a plain client, as a balancer's neighbours would be.
 */
const TRUST = ['--trust-proxy', '127.0.0.2/31,127.0.0.4/30,127.0.0.8/29,127.0.0.16/28,127.0.0.32/31'];

const VARIANTS: Variant[] = [
  { spec: peer('cluster-rr', 'cluster round-robin', 'cluster-rr.js') },
  { spec: corral('corral-sid', 'sid') },
  { spec: corral('corral-ip', 'ip') },
  { spec: corral('corral-cookie', 'cookie') },
  { spec: corral('corral-header', 'header:x-tenant'), headers: (i) => `X-Tenant: t${i % 64}\r\n` },
  { spec: { ...corral('corral-xff', 'ip', TRUST), label: 'corral --sticky ip --trust-proxy (X-Forwarded-For)' }, headers: (i) => `X-Forwarded-For: ${client(i)}\r\n` },
  { spec: { ...corral('corral-proxy-ip', 'ip', ['--proxy-protocol', ...TRUST]), label: 'corral --sticky ip --proxy-protocol' }, prefix: (i) => `PROXY TCP4 ${client(i)} 127.0.0.1 ${10_000 + (i % 50_000)} 80\r\n` },
  { spec: { ...corral('corral-proxy-sid', 'sid', ['--proxy-protocol', ...TRUST]), label: 'corral --sticky sid --proxy-protocol' }, prefix: (i) => `PROXY TCP4 ${client(i)} 127.0.0.1 ${10_000 + (i % 50_000)} 80\r\n` },
];

interface Row {
  label: string;
  /** Per run. */
  rate: number[];
  primaryUs: number[];
  p50: number[];
  p99: number[];
  failed: number;
}

async function measure(v: Variant, connections: number): Promise<{ rate: number; primaryUs: number; p50: number; p99: number; failed: number }> {
  const running = await Running.start(v.spec, 20_000);
  try {
    const request = (i: number): string => `${v.prefix?.(i) ?? ''}GET / HTTP/1.1\r\nHost: 127.0.0.1:${running.port}\r\n${v.headers?.(i) ?? ''}Connection: close\r\n\r\n`;
    const one = async (i: number, lat: Samples | undefined): Promise<boolean> => {
      const t = performance.now();
      try {
        const res = await oneShot('127.0.0.1', running.port, addressFor(SPREAD, i), request(i), 10_000);
        lat?.add(performance.now() - t);
        return res.status === 200 && res.body === 'hello';
      } catch {
        return false;
      }
    };
    // Warm-up: JIT, worker sockets, the first cookies.
    await timedPool(50, performance.now() + 60_000, 1000, async (i) => void (await one(i, undefined)));
    const lat = new Samples();
    let failed = 0;
    const cpu0 = cpuMs(running.pid)!;
    const t0 = performance.now();
    await timedPool(50, t0 + 120_000, connections, async (i) => {
      if (!(await one(i, lat))) failed++;
    });
    const wallS = (performance.now() - t0) / 1000;
    const cpu = cpuMs(running.pid)! - cpu0;
    const { p50, p99 } = lat.summary();
    return { rate: connections / wallS, primaryUs: (cpu * 1000) / connections, p50: p50 ?? NaN, p99: p99 ?? NaN, failed };
  } finally {
    await running.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '6000' }, only: { type: 'string' }, out: { type: 'string', default: path.join(ROOT, 'bench', 'results') } } });
  const only = values.only?.split(',');
  const variants = only === undefined ? VARIANTS : VARIANTS.filter((v) => only.includes(v.spec.id));
  if (variants.length === 0) throw new Error(`--only: none of ${values.only}; ids: ${VARIANTS.map((v) => v.spec.id).join(', ')}`);
  const runs = Number(values.runs);
  const connections = Number(values.connections);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be 1..20, got ${values.runs}`);
  if (!Number.isInteger(connections) || connections < 100) throw new Error(`--connections must be at least 100, got ${values.connections}`);
  process.on('exit', killAllContendersNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  const rows = new Map<string, Row>(variants.map((v) => [v.spec.id, { label: v.spec.label, rate: [], primaryUs: [], p50: [], p99: [], failed: 0 }]));
  for (let run = 0; run < runs; run++) {
    // Rotate the order each run so no variant always goes first.
    const order = variants.map((_, i) => variants[(i + run) % variants.length]!);
    for (const v of order) {
      const m = await measure(v, connections);
      const row = rows.get(v.spec.id)!;
      row.rate.push(m.rate);
      row.primaryUs.push(m.primaryUs);
      row.p50.push(m.p50);
      row.p99.push(m.p99);
      row.failed += m.failed;
      console.error(`run ${run + 1}/${runs} ${v.spec.label}: ${m.rate.toFixed(0)} conn/s, primary ${m.primaryUs.toFixed(1)} us/conn, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, failed ${m.failed}`);
    }
  }
  const med = (xs: number[]): number => median(xs) ?? NaN;
  const rr = med(rows.get('cluster-rr')?.primaryUs ?? []);
  const sid = med(rows.get('corral-sid')?.primaryUs ?? []);
  const lines = [
    `# What the front door costs: primary CPU per new connection`,
    ``,
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; ${runs} run(s) of ${connections} connections (one request each, 50 at a time, from 127.0.0.2-33), medians. Ratios: primary CPU per connection against round-robin's and corral --sticky sid's (lower is cheaper).`,
    ``,
    `| contender | connections/s | primary us/conn | vs round-robin | vs corral sid | p50 ms | p99 ms | failed |`,
    `|---|---|---|---|---|---|---|---|`,
    ...[...rows.values()].map((r) => {
      const us = med(r.primaryUs);
      return `| ${r.label} | ${med(r.rate).toFixed(0)} | ${us.toFixed(1)} | ${(us / rr).toFixed(2)}x | ${(us / sid).toFixed(2)}x | ${med(r.p50).toFixed(2)} | ${med(r.p99).toFixed(2)} | ${r.failed} |`;
    }),
    ``,
  ];
  const text = lines.join('\n');
  console.log(text);
  writeFileSync(path.join(values.out!, 'front-door.md'), text);
  writeFileSync(path.join(values.out!, 'front-door.json'), `${JSON.stringify({ runs, connections, node: process.version, rows: [...rows.values()] }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

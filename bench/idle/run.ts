/**
 * Many idle WebSockets: Socket.IO clients, WebSocket only, connected to corral (2 workers,
 * --sticky sid) and held for a while with Engine.IO pings, then the same per process against a
 * single process (count / 2 connections: what each corral worker holds) for the RSS per
 * connection. Clients come from 127.0.0.2..33 and are split over client processes of at most
 * PER_CLIENT connections. Writes bench/results/idle.{md,json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTENDERS, Running, type ContenderSpec } from '../contenders';
import { hardFdLimit, ulimitPrefix } from '../limits';
import { SPREAD } from '../plan';
import { rssKb } from '../proc';
import { table } from '../report';
import { duration } from '../results';
import { sleep } from '../workloads/common';
import { IdleClient } from './clients';
import type { Reasons } from './protocol';

export interface IdleOptions {
  count: number;
  holdMs: number;
  pingIntervalMs: number;
  out: string;
}

/** Connections per client process. */
const PER_CLIENT = 12_000;
/** Connections being opened at once, per client process. */
const OPENING = 100;
const CONNECT_DEADLINE_MS = 20_000;
const SAMPLE_MS = 10_000;

/** RSS (kB) of the primary and of each worker at one moment. */
interface Rss {
  at: string;
  t: number;
  primaryKb: number | null;
  workersKb: Record<string, number | null>;
}

interface TargetResult {
  label: string;
  workers: number;
  requested: number;
  connected: number;
  failed: number;
  failReasons: Reasons;
  connectS: number;
  perWorker: Record<string, number>;
  dropped: number;
  dropReasons: Reasons;
  pingsAnswered: number;
  answeredAfterHold: number;
  fdLimit: number;
  rss: Rss[];
  /** Per process: (RSS after connect - at start) / its connections, and the same after the hold, kB. */
  perConnKb: { pid: string; afterConnect: number | null; afterHold: number | null }[];
}

const add = (into: Reasons, from: Reasons): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

function sample(at: string, t0: number, server: Running, workers: readonly number[]): Rss {
  const workersKb: Record<string, number | null> = {};
  for (const w of workers) workersKb[String(w)] = rssKb(w);
  return { at, t: (performance.now() - t0) / 1000, primaryKb: rssKb(server.pid), workersKb };
}

async function measure(spec: ContenderSpec, count: number, o: IdleOptions, log: (s: string) => void): Promise<TargetResult> {
  const hard = hardFdLimit();
  // Each server process may hold all its connections at once (a worker about half), plus slack.
  const serverNeed = Math.ceil(count / spec.workers) + 2000;
  const fdLimit = Math.min(hard, Math.max(serverNeed, 4096));
  if (serverNeed > hard) log(`WARNING ${spec.label}: needs ${serverNeed} fds per process, hard limit ${hard} (raising it needs CAP_SYS_RESOURCE): expect EMFILE refusals past it`);
  const withPings: ContenderSpec = {
    ...spec,
    command: (port) => {
      const c = spec.command(port);
      return { args: c.args, env: { ...c.env, BENCH_PING_INTERVAL_MS: String(o.pingIntervalMs), BENCH_PING_TIMEOUT_MS: '20000' } };
    },
  };
  const server = await Running.start(withPings, 30_000, ulimitPrefix(fdLimit));
  const nClients = Math.max(1, Math.ceil(count / PER_CLIENT));
  const clients = Array.from({ length: nClients }, () => new IdleClient(Math.min(hard, Math.ceil(count / nClients) + 2000)));
  try {
    const workers = spec.workers === 1 ? [server.pid] : server.workerPids();
    await sleep(1000);
    const t0 = performance.now();
    const rss: Rss[] = [sample('start', t0, server, workers)];
    log(`${spec.label}: up (primary ${server.pid}, workers ${workers.join(',')}), opening ${count} connections from ${nClients} client process(es), fd limit ${fdLimit}`);
    const url = `ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`;
    const slice = Math.ceil(count / nClients);
    const tOpen = performance.now();
    const opened = await Promise.all(
      clients.map((c, k) => {
        const n = Math.max(0, Math.min(slice, count - k * slice));
        const bound = 60_000 + Math.ceil(n / OPENING) * CONNECT_DEADLINE_MS;
        return c.ask({ type: 'open', url, addresses: SPREAD, from: k * slice, count: n, concurrency: OPENING, deadlineMs: CONNECT_DEADLINE_MS }, 'opened', bound);
      }),
    );
    const connectS = (performance.now() - tOpen) / 1000;
    const failReasons: Reasons = {};
    const perWorker: Record<string, number> = {};
    for (const m of opened) {
      add(failReasons, m.reasons);
      add(perWorker, m.pids);
    }
    const connected = opened.reduce((n, m) => n + m.connected, 0);
    const failed = opened.reduce((n, m) => n + m.failed, 0);
    log(`${spec.label}: ${connected}/${count} connected in ${connectS.toFixed(1)} s${failed > 0 ? `, ${failed} failed (${Object.entries(failReasons).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}; per worker ${Object.values(perWorker).join('/')}`);
    await sleep(2000);
    rss.push(sample('connected', t0, server, workers));
    const holdEnd = performance.now() + o.holdMs;
    for (let i = 0; performance.now() < holdEnd && i < 10_000; i++) {
      await sleep(Math.min(SAMPLE_MS, Math.max(0, holdEnd - performance.now())));
      rss.push(sample(performance.now() >= holdEnd ? 'held' : 'hold', t0, server, workers));
    }
    const reports = await Promise.all(clients.map((c) => c.ask({ type: 'report' }, 'report', 30_000)));
    const checks = await Promise.all(clients.map((c) => c.ask({ type: 'check', deadlineMs: 20_000 }, 'checked', 60_000)));
    const dropReasons: Reasons = {};
    for (const r of reports) add(dropReasons, r.reasons);
    const dropped = reports.reduce((n, r) => n + r.dropped, 0);
    const pingsAnswered = reports.reduce((n, r) => n + r.pings, 0);
    const answeredAfterHold = checks.reduce((n, r) => n + r.answered, 0);
    log(`${spec.label}: after ${(o.holdMs / 1000).toFixed(0)} s: ${dropped} dropped, ${pingsAnswered} pings answered, ${answeredAfterHold}/${connected} still answer`);
    const at = (name: string): Rss | undefined => rss.find((r) => r.at === name);
    const perConnKb = workers.map((w) => {
      const key = String(w);
      const n = perWorker[key] ?? 0;
      const base = at('start')?.workersKb[key] ?? null;
      const per = (r: Rss | undefined): number | null => {
        const v = r?.workersKb[key] ?? null;
        return v === null || base === null || n === 0 ? null : Math.round(((v - base) / n) * 100) / 100;
      };
      return { pid: key, afterConnect: per(at('connected')), afterHold: per(at('held')) };
    });
    return {
      label: spec.label,
      workers: spec.workers,
      requested: count,
      connected,
      failed,
      failReasons,
      connectS,
      perWorker,
      dropped,
      dropReasons,
      pingsAnswered,
      answeredAfterHold,
      fdLimit,
      rss,
      perConnKb,
    };
  } finally {
    await Promise.all(clients.map((c) => c.ask({ type: 'close' }, 'closed', 10_000).catch(() => undefined)));
    await Promise.all([server.stop(), ...clients.map((c) => c.stop())]);
  }
}

const mb = (kb: number | null | undefined): string => (kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1));
const meanOf = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
};

function render(o: IdleOptions, started: number, results: readonly TargetResult[], warnings: readonly string[]): string {
  const corral = results.find((r) => r.workers > 1);
  const single = results.find((r) => r.workers === 1);
  const rows = results.map((r) => {
    const rssAt = (name: string): Rss | undefined => r.rss.find((x) => x.at === name);
    const primary = r.workers > 1 ? `${mb(rssAt('start')?.primaryKb)} / ${mb(rssAt('connected')?.primaryKb)} / ${mb(rssAt('held')?.primaryKb)}` : '(the app: see per conn)';
    const perConn = r.perConnKb.map((p) => `${p.afterConnect ?? '-'} / ${p.afterHold ?? '-'}`).join('; ');
    return [
      r.label,
      `${r.connected}/${r.requested}${r.failed > 0 ? ` (failed ${r.failed}: ${Object.entries(r.failReasons).sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
      r.connectS.toFixed(1),
      `${r.dropped}${r.dropped > 0 ? ` (${Object.keys(r.dropReasons).join(', ')})` : ''}`,
      `${r.answeredAfterHold}/${r.connected}`,
      String(r.pingsAnswered),
      Object.values(r.perWorker).join('/'),
      primary,
      perConn,
    ];
  });
  const cw = meanOf(corral?.perConnKb.map((p) => p.afterHold) ?? []);
  const sw = meanOf(single?.perConnKb.map((p) => p.afterHold) ?? []);
  const ratio = cw !== null && sw !== null && sw > 0 ? cw / sw : null;
  // Flat = no growth while the connections are held (what it took to hand them off is shown apart).
  const primaryAt = (name: string): number | null => corral?.rss.find((r) => r.at === name)?.primaryKb ?? null;
  const held = primaryAt('held');
  const conn = primaryAt('connected');
  const start = primaryAt('start');
  const primaryGrowth = held !== null && conn !== null ? held - conn : null;
  const connectGrowth = conn !== null && start !== null ? conn - start : null;
  const targets = [
    ['all connected (corral)', corral && corral.connected === corral.requested ? 'PASS' : 'FAIL', corral ? `${corral.connected}/${corral.requested}` : '-'],
    ['0 dropped during the hold (corral)', corral && corral.dropped === 0 && corral.answeredAfterHold === corral.connected ? 'PASS' : 'FAIL', corral ? `${corral.dropped} dropped, ${corral.answeredAfterHold}/${corral.connected} answer after it` : '-'],
    [
      'primary RSS flat during the hold (< 1 MB growth)',
      primaryGrowth !== null && primaryGrowth < 1024 ? 'PASS' : 'FAIL',
      primaryGrowth === null ? '-' : `${(primaryGrowth / 1024).toFixed(2)} MB over the hold; ${((connectGrowth ?? 0) / 1024).toFixed(2)} MB while connecting`,
    ],
    ['worker RSS per connection <= 1.2x a single process\'s', ratio !== null && ratio <= 1.2 ? 'PASS' : 'FAIL', ratio === null ? '-' : `${cw?.toFixed(2)} vs ${sw?.toFixed(2)} kB = ${ratio.toFixed(2)}x (after the hold)`],
  ];
  return [
    `## Idle WebSockets: ${o.count} connections, ${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. Duration: ${duration(Math.round((Date.now() - started) / 1000))}.`,
    `Socket.IO over WebSocket only (a raw \`ws\` client speaking Engine.IO 4 / Socket.IO 5: open, namespace connect, an acked \`pid\` event, a pong per ping), ` +
      `clients over 127.0.0.2-33, ${Math.ceil(o.count / PER_CLIENT)} client process(es), ${OPENING} opening at once per process. ` +
      `Held ${(o.holdMs / 1000).toFixed(0)} s with the app's pingInterval at ${o.pingIntervalMs} ms (BENCH_PING_INTERVAL_MS; Engine.IO's default is 25000), pingTimeout 20000. ` +
      `"still answer": an acked event asked again after the hold. The single process holds ${single?.requested ?? '-'} connections, what each corral worker holds, ` +
      'for RSS per connection at the same size. RSS per connection = (RSS now - RSS before any connection) / connections on that process.',
    ...warnings.map((w) => `\nWARNING: ${w}`),
    '',
    table(['contender', 'connected', 'connect s', 'dropped in hold', 'still answer', 'pings answered', 'per worker', 'primary RSS MB start / connected / held', 'RSS kB per conn (connected / held), per process'], rows),
    '',
    table(['target', 'verdict', 'measured'], targets as string[][]),
    '',
  ].join('\n');
}

export async function runIdle(o: IdleOptions): Promise<void> {
  const started = Date.now();
  const warnings: string[] = [];
  const log = (s: string): void => {
    if (s.startsWith('WARNING ')) warnings.push(s.slice(8));
    console.log(s);
  };
  const corral = CONTENDERS.find((c) => c.id === 'corral-sid') as ContenderSpec;
  const single = CONTENDERS.find((c) => c.id === 'single') as ContenderSpec;
  const why = corral.unavailable();
  if (why !== null) throw new Error(why);
  console.log(`corral idle bench: ${o.count} WebSockets, hold ${o.holdMs / 1000} s`);
  const results: TargetResult[] = [];
  results.push(await measure(corral, o.count, o, log));
  results.push(await measure(single, Math.ceil(o.count / 2), o, log));
  const md = render(o, started, results, warnings);
  console.log(`\n${md}`);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, 'idle.md'), md);
  writeFileSync(path.join(o.out, 'idle.json'), `${JSON.stringify({ date: new Date(started).toISOString(), options: o, warnings, results }, null, 2)}\n`);
  console.log(`wrote ${path.join(o.out, 'idle.md')} and idle.json`);
}

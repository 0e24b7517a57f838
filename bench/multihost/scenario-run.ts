/**
 * One run of one scenario: its own Redis, corral hosts and nginx, one workload from a client
 * process, everything stopped afterwards. Never throws: an error becomes the record's `error`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePortRun } from '../../test/helpers/balancers';
import { freePort } from '../contenders';
import { ClientProcess, type Measured, type MarkHook } from '../harness';
import { hardTimeoutMs, sizes } from '../plan';
import { cpuMs } from '../proc';
import { CorralHost, type HostStatus } from './corral-host';
import { Front } from './front';
import { BenchRedis } from './redis';
import { HOSTS, WORKERS_PER_HOST, type Scenario, type ScenarioId } from './scenarios';

/** Workers report their counters to the primary once a second (src/worker/runtime.ts STATS_MS). */
const STATS_SETTLE_MS = 1200;

/** Clients whose session a worker holds, by the pid the app answered with. */
export interface WorkerClients {
  host: string;
  slot: number;
  pid: number;
  clients: number;
}

/** CPU over the measured phase that the harness does not sample, % of one core. */
export interface ExtraCpu {
  /** Every host's primary, summed. */
  primariesPct: number | null;
  /** nginx master + workers. */
  nginxPct: number | null;
  redisPct: number | null;
  /** Everything else on the machine (the harness's figure minus what is accounted for here). */
  otherPct: number | null;
}

/** One run of one scenario, as hosts.json keeps it. */
export interface HostsRecord {
  scenario: ScenarioId;
  run: number;
  measured?: Measured;
  error?: string;
  extraCpu?: ExtraCpu;
  /** Requests forwarded / upgrades relayed between workers during the measured phase, all hosts. */
  forwarded: number | null;
  relayed: number | null;
  statusError?: string;
  perWorker: WorkerClients[];
  /** Sessions reported by a pid that is none of the workers (should stay empty). */
  strayPids: Record<string, number>;
}

type Snapshot = { t: number; cpu: Map<number, number | null> };

function snapshot(pids: readonly number[]): Snapshot {
  const cpu = new Map<number, number | null>();
  for (const p of pids) cpu.set(p, cpuMs(p));
  return { t: performance.now(), cpu };
}

/** Summed CPU % of `pids` between two snapshots (null if none of them could be read). */
function pctOf(a: Snapshot, b: Snapshot, pids: readonly number[]): number | null {
  const wall = b.t - a.t;
  let ms: number | null = null;
  for (const p of pids) {
    const x = a.cpu.get(p);
    const y = b.cpu.get(p);
    if (x == null || y == null) continue;
    ms = (ms ?? 0) + (y - x);
  }
  return ms === null || wall <= 0 ? null : Math.round((ms / wall) * 1000) / 10;
}

const sum = (xs: readonly HostStatus[], key: 'forwarded' | 'relayed'): number => xs.reduce((n, s) => n + s.workers.reduce((m, w) => m + w[key], 0), 0);

/** Starts the scenario's servers, runs its workload once, stops everything. */
export async function runScenario(sc: Scenario, run: number, quick: boolean, tag: string): Promise<HostsRecord> {
  const rec: HostsRecord = { scenario: sc.id, run, forwarded: null, relayed: null, perWorker: [], strayPids: {} };
  const controlDir = mkdtempSync(path.join(tmpdir(), 'corral-bench-hosts-'));
  tempDirs.add(controlDir);
  const hostDefs = HOSTS.slice(0, sc.hosts);
  // The client process compiles (tsx) while the servers boot.
  const client = ClientProcess.start();
  let redis: BenchRedis | null = null;
  const hosts: CorralHost[] = [];
  let front: Front | null = null;
  const t0 = Date.now();
  try {
    if (sc.adapter !== 'cluster') redis = await BenchRedis.start();
    // One run of free ports on every host address: the public port, then the slot ports.
    const base = await freePortRun(1 + WORKERS_PER_HOST, hostDefs.map((h) => h.address));
    const port = base;
    const slotBase = sc.slotPorts ? base + 1 : null;
    const started = await Promise.allSettled(
      hostDefs.map((h) =>
        CorralHost.start({
          id: h.id,
          address: h.address,
          port,
          workers: WORKERS_PER_HOST,
          adapter: sc.adapter,
          redisUrl: redis?.url ?? null,
          slotPorts: slotBase,
          controlPath: path.join(controlDir, `${h.id}.sock`),
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') hosts.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    front = await Front.start({
      hosts: hostDefs.map((h) => ({ id: h.id, address: h.address, port })),
      listenPort: await freePort(),
      slotPorts: slotBase === null ? null : { base: slotBase, workers: WORKERS_PER_HOST },
    });
    const nginxPids = front.pids();
    console.log(
      `${tag}: up in ${((Date.now() - t0) / 1000).toFixed(1)} s (nginx :${front.port} -> ${hosts.map((h) => `${h.id} ${h.options.address}:${port} [${h.workerPids().join(',')}]`).join(', ')}` +
        `${slotBase === null ? '' : `, slot ports ${slotBase}-${slotBase + WORKERS_PER_HOST - 1}`}${redis ? `, redis :${redis.port}` : ''})`,
    );

    const extraPids = {
      primaries: hosts.map((h) => h.pid),
      nginx: nginxPids,
      redis: redis ? [redis.pid] : [],
    };
    const all = [...extraPids.primaries, ...extraPids.nginx, ...extraPids.redis];
    const seen: { before: HostStatus[] | null; after: HostStatus[] | null; s0: Snapshot | null; s1: Snapshot | null } = { before: null, after: null, s0: null, s1: null };
    const statuses = async (): Promise<HostStatus[] | null> => {
      try {
        return await Promise.all(hosts.map((h) => h.status()));
      } catch (e) {
        rec.statusError = (e as Error).message;
        return null;
      }
    };
    // Counters are read with the clients idle (connected, not yet / no longer sending).
    const onMark: MarkHook = async (name) => {
      if (name === 'start') {
        await new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
        seen.before = await statuses();
        seen.s0 = snapshot(all);
      } else if (name === 'end') {
        seen.s1 = snapshot(all);
        await new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
        seen.after = await statuses();
      }
    };
    const s = sizes(sc.workload, quick);
    const m = await client.run(
      sc.workload,
      { ...s, url: front.url, host: '127.0.0.1', port: front.port },
      // The harness samples one primary (h1's); the others, nginx and Redis are sampled above.
      { primary: hosts[0]?.pid ?? -1, workers: () => hosts.flatMap((h) => h.workerPids()) },
      hardTimeoutMs(s) + 4 * STATS_SETTLE_MS + 10_000,
      onMark,
    );
    rec.measured = m;
    const { before: b, after: a, s0: x0, s1: x1 } = seen;
    if (b !== null && a !== null) {
      rec.forwarded = sum(a, 'forwarded') - sum(b, 'forwarded');
      rec.relayed = sum(a, 'relayed') - sum(b, 'relayed');
    }
    if (x0 !== null && x1 !== null) {
      const primariesPct = pctOf(x0, x1, extraPids.primaries);
      const nginxPct = pctOf(x0, x1, extraPids.nginx);
      const redisPct = redis ? pctOf(x0, x1, extraPids.redis) : null;
      const unaccounted = (primariesPct ?? 0) - (m.cpu.primaryPct ?? 0) + (nginxPct ?? 0) + (redisPct ?? 0);
      const otherPct = m.cpu.otherPct === null ? null : Math.max(0, Math.round((m.cpu.otherPct - unaccounted) * 10) / 10);
      rec.extraCpu = { primariesPct, nginxPct, redisPct, otherPct };
    }
    // Which worker each client's session landed on, from the pid every answer carries.
    const known = new Map<number, { host: string; slot: number }>();
    (b ?? []).forEach((st, i) => {
      for (const w of st.workers) if (w.pid !== null) known.set(w.pid, { host: hosts[i]?.id ?? '?', slot: w.slot });
    });
    for (const h of hosts) for (const [i, p] of h.workerPids().sort((x, y) => x - y).entries()) if (!known.has(p)) known.set(p, { host: h.id, slot: i });
    for (const [pid, where] of known) rec.perWorker.push({ ...where, pid, clients: m.result.pids[String(pid)] ?? 0 });
    rec.perWorker.sort((x, y) => x.host.localeCompare(y.host) || x.slot - y.slot);
    for (const [pid, n] of Object.entries(m.result.pids)) if (!known.has(Number(pid))) rec.strayPids[pid] = n;
    const dead = hosts.filter((h) => h.exitedHow !== null);
    if (dead.length > 0) rec.error = `host died during the run: ${dead.map((h) => `${h.id} (${h.exitedHow})`).join(', ')}`;
  } catch (e) {
    const msg = (e as Error).message;
    rec.error = msg.split('\n')[0] ?? msg;
    console.log(`${tag}: ERROR ${msg}`);
  } finally {
    await client.stop();
    await front?.stop();
    await Promise.all(hosts.map((h) => h.stop()));
    await redis?.stop();
    rmSync(controlDir, { recursive: true, force: true });
    tempDirs.delete(controlDir);
  }
  return rec;
}

/** Control-socket directories of scenarios still running. */
const tempDirs = new Set<string>();

/** For exit handlers: remove them, synchronously. */
export function removeTempDirsNow(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

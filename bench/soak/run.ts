/**
 * Soak: corral (2 workers, --sticky sid) under steady mixed load (plain HTTP on new connections,
 * Socket.IO polling and WebSocket clients) for a long time, with a rolling reload every
 * `reloadEvery` (`corral reload --control`) and a `kill -9` of one worker every `killEvery`. RSS
 * of the primary and of every worker sampled every 10 s. Writes bench/results/soak.{json,md,svg}.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, Running, corral } from '../contenders';
import { IpcChild } from '../ipc-child';
import { SPREAD } from '../plan';
import { cpuMs, descendants, killQuietly, machineBusyMs, rssKb } from '../proc';
import { sleep } from '../workloads/common';
import type { FromSoakClient, SoakLoad, SoakLoadResult, ToSoakClient } from './protocol';
import { renderSoak, type SoakEvent, type SoakRecord, type SoakSample } from './report';

export interface SoakOptions {
  durationMs: number;
  reloadEveryMs: number;
  killEveryMs: number;
  out: string;
}

const SAMPLE_MS = 10_000;
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
/** Moderate and steady: well under what two workers serve, so CPU stays around half the machine. */
const LOAD = { httpPerSec: 200, polling: 50, websocket: 200, echoMs: 1000, deadlineMs: 10_000 } as const;

function reload(control: string): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'reload', '--control', control], { cwd: ROOT, timeout: 180_000 }, (err, stdout, stderr) =>
      resolve({ ok: err === null, detail: (err ? `${err.message.split('\n')[0]} ${stderr}` : stdout).trim().slice(0, 300) }),
    );
  });
}

export async function runSoak(o: SoakOptions): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-soak-'));
  const control = path.join(dir, 'soak.sock');
  const spec = corral('corral-sid', 'sid', ['--control', control]);
  const why = spec.unavailable();
  if (why !== null) throw new Error(why);
  console.log(`corral soak: ${o.durationMs / 60_000} min, reload every ${o.reloadEveryMs / 1000} s, kill -9 a worker every ${o.killEveryMs / 1000} s; load: ${JSON.stringify(LOAD)}`);
  const server = await Running.start(spec, 30_000);
  const load = new IpcChild<ToSoakClient, FromSoakClient>('soak load', path.join(__dirname, 'client.ts'), 8192);
  const samples: SoakSample[] = [];
  const events: SoakEvent[] = [];
  const killsNs: bigint[] = [];
  let result: SoakLoadResult | null = null;
  let error: string | null = null;
  const cpu0 = { machine: machineBusyMs(), primary: cpuMs(server.pid), load: 0 as number | null };
  const workerCpu = new Map<number, { first: number; last: number }>();
  let t0 = performance.now();
  const wall = (): number => (performance.now() - t0) / 1000;
  try {
    const params: SoakLoad = { ...LOAD, url: server.url, host: '127.0.0.1', port: server.port, addresses: SPREAD };
    const up = await load.ask({ type: 'start', load: params }, 'started', 120_000);
    console.log(`soak: load up (${up.polling}/${LOAD.polling} polling, ${up.websocket}/${LOAD.websocket} WebSocket clients, ${LOAD.httpPerSec} HTTP/s); primary ${server.pid}`);
    t0 = performance.now();
    cpu0.machine = machineBusyMs();
    cpu0.primary = cpuMs(server.pid);
    cpu0.load = cpuMs(load.pid);
    const take = (): void => {
      const t = wall();
      samples.push({ t, pid: server.pid, role: 'primary', rssKb: rssKb(server.pid) });
      for (const w of descendants(server.pid)) {
        samples.push({ t, pid: w, role: 'worker', rssKb: rssKb(w) });
        const c = cpuMs(w);
        if (c === null) continue;
        const seen = workerCpu.get(w);
        workerCpu.set(w, { first: seen?.first ?? c, last: c });
      }
    };
    let nextSample = 0;
    let nextReload = o.reloadEveryMs / 1000;
    let nextKill = o.killEveryMs / 1000;
    let reloading: Promise<void> | null = null;
    const end = o.durationMs / 1000;
    for (let guard = 0; wall() < end && guard < 10_000_000; guard++) {
      if (server.exitedHow !== null) throw new Error(`corral exited (${server.exitedHow}):\n${server.output()}`);
      if (wall() >= nextSample) {
        take();
        nextSample += SAMPLE_MS / 1000;
      }
      if (wall() >= nextReload && reloading === null) {
        const ev: SoakEvent = { kind: 'reload', t: wall(), tNs: String(process.hrtime.bigint()), ok: null, detail: '', durationS: null };
        events.push(ev);
        console.log(`soak ${ev.t.toFixed(0)} s: rolling reload`);
        reloading = reload(control).then((r) => {
          ev.ok = r.ok;
          ev.detail = r.detail;
          ev.durationS = wall() - ev.t;
          console.log(`soak ${wall().toFixed(0)} s: reload ${r.ok ? 'done' : 'FAILED'} in ${ev.durationS.toFixed(1)} s${r.ok ? '' : `: ${r.detail}`}`);
          reloading = null;
        });
        nextReload += o.reloadEveryMs / 1000;
      }
      // Not in the middle of a reload: a kill then tests something else (and is deferred, logged).
      if (wall() >= nextKill && reloading === null) {
        const workers = descendants(server.pid).sort((a, b) => a - b);
        const victim = workers[killsNs.length % Math.max(1, workers.length)];
        if (victim !== undefined) {
          const tNs = process.hrtime.bigint();
          killQuietly(victim, 'SIGKILL');
          killsNs.push(tNs);
          events.push({ kind: 'kill', t: wall(), tNs: String(tNs), ok: true, detail: `worker ${victim}`, durationS: null, pid: victim });
          console.log(`soak ${wall().toFixed(0)} s: kill -9 worker ${victim}`);
        }
        nextKill += o.killEveryMs / 1000;
      }
      await sleep(100);
    }
    take();
    if (reloading !== null) await reloading;
    result = (await load.ask({ type: 'stop' }, 'result', 60_000)).result;
  } catch (e) {
    error = (e as Error).message;
    console.log(`soak: ERROR ${error}`);
  } finally {
    const wallS = wall();
    const cpu = {
      machineBusyPct: Math.round(((machineBusyMs() - cpu0.machine) / (wallS * 1000 * os.cpus().length)) * 1000) / 10,
      primaryPct: pct(cpu0.primary, cpuMs(server.pid), wallS),
      loadPct: pct(cpu0.load, cpuMs(load.pid), wallS),
      workersPct: pct(0, [...workerCpu.values()].reduce((n, w) => n + w.last - w.first, 0), wallS),
    };
    await Promise.all([server.stop(), load.stop()]);
    rmSync(dir, { recursive: true, force: true });
    const record: SoakRecord = { date: new Date(started).toISOString(), options: o, load: LOAD, machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`, wallS, samples, events, result, error, cpu };
    const { md, svg } = renderSoak(record, killsNs);
    mkdirSync(o.out, { recursive: true });
    writeFileSync(path.join(o.out, 'soak.json'), `${JSON.stringify(record, null, 2)}\n`);
    writeFileSync(path.join(o.out, 'soak.md'), md);
    writeFileSync(path.join(o.out, 'soak.svg'), svg);
    console.log(`\n${md}\nwrote ${path.join(o.out, 'soak.md')}, soak.json and soak.svg`);
  }
}

function pct(a: number | null, b: number | null, wallS: number): number | null {
  return a === null || b === null || wallS <= 0 ? null : Math.round(((b - a) / (wallS * 1000)) * 1000) / 10;
}

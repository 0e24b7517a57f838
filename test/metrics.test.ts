import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { io as connectClient, type Socket } from 'socket.io-client';
import { fixture, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';
import { freePort } from './helpers/ports';

/** Debian's python3-prometheus-client: a real Prometheus text parser, independent of prom-client. */
const PYTHON = '/usr/bin/python3';
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

interface Sample {
  family: string;
  type: string;
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', PARSE], { timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Sample[])));
    child.stdin!.end(text);
  });
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('--metrics', () => {
  test('/metrics under HTTP and Socket.IO load: valid Prometheus text, the app counter summed over workers, per-slot series, counters that move', async (t) => {
    const port = await freePort();
    const corral = await startCorral(t, fixture('metrics-app.js'), { args: ['--metrics', String(port)] });
    const metrics = `http://127.0.0.1:${port}`;
    await corral.waitForOutput(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const clients: Socket[] = [];
    t.after(() => clients.forEach((c) => c.close()));
    for (let i = 0; i < 6; i++) clients.push(connectClient(corral.url, { transports: i % 2 ? ['websocket'] : ['polling'], reconnection: false }));
    await waitFor(() => clients.every((c) => c.connected), 10_000, 'the Socket.IO clients');
    const served = new Set<string>();
    for (let i = 0; i < 40; i++) served.add((await exchange(`${corral.url}/hit`, { agent: false })).body);
    assert.equal(served.size, 2, 'both workers served');

    const first = await parse((await exchange(`${metrics}/metrics`, { agent: false, timeoutMs: 2000 })).body);
    assert.equal(value(first, 'app_requests_total', { route: '/hit' }), 40, 'the sum of what each worker counted');
    assert.equal(value(first, 'app_temperature'), 20.5, 'a gauge averaged, by its own aggregator');
    for (const slot of ['0', '1']) {
      assert.equal(value(first, 'corral_worker_up', { slot }), 1);
      assert.equal(value(first, 'corral_worker_state', { slot, state: 'ready' }), 1);
    }
    const sessions = (value(first, 'corral_worker_engine_sessions', { slot: '0' }) ?? 0) + (value(first, 'corral_worker_engine_sessions', { slot: '1' }) ?? 0);
    assert.equal(sessions, 6);
    const accepted = value(first, 'corral_handoffs_total', { result: 'accepted' }) ?? 0;
    assert.ok(accepted >= 40, `handoffs accepted: ${accepted}`);
    assert.ok((value(first, 'corral_handoff_duration_seconds_count') ?? 0) >= 40);

    for (let i = 0; i < 10; i++) await exchange(`${corral.url}/hit`, { agent: false });
    const second = await parse((await exchange(`${metrics}/metrics`, { agent: false, timeoutMs: 2000 })).body);
    assert.equal(value(second, 'app_requests_total', { route: '/hit' }), 50);
    assert.ok((value(second, 'corral_handoffs_total', { result: 'accepted' }) ?? 0) >= accepted + 10);
    assert.equal((await exchange(`${metrics}/healthz`, { agent: false })).status, 200);
    assert.equal((await exchange(`${metrics}/readyz`, { agent: false })).status, 200);
  });

  test('a stopped worker (SIGSTOP) never fails the scrape: it answers within 2 s, that slot is down, the other is there; SIGCONT brings it back', async (t) => {
    const port = await freePort();
    const corral = await startCorral(t, fixture('metrics-app.js'), { args: ['--metrics', String(port)] });
    const pid = Number(/worker 1 \(pid (\d+)\) ready/.exec(corral.output())![1]);
    for (let i = 0; i < 10; i++) await exchange(`${corral.url}/hit`, { agent: false });
    process.kill(pid, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    });
    const down = await parse((await exchange(`http://127.0.0.1:${port}/metrics`, { agent: false, timeoutMs: 2000 })).body);
    assert.equal(value(down, 'corral_worker_up', { slot: '1' }), 0);
    assert.equal(value(down, 'corral_worker_up', { slot: '0' }), 1);
    assert.ok((value(down, 'app_requests_total', { route: '/hit' }) ?? 0) > 0, "the other worker's counts are there");
    process.kill(pid, 'SIGCONT');
    await waitFor(async () => value(await parse((await exchange(`http://127.0.0.1:${port}/metrics`, { agent: false, timeoutMs: 2000 })).body), 'corral_worker_up', { slot: '1' }) === 1, 10_000, 'slot 1 up again');
  });

  test('/readyz is 503 while no worker is ready (a --wait-ready app warming up) and 200 after', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-readyz-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const readyFile = join(dir, 'ready');
    const port = await freePort();
    const corral = await startCorral(t, fixture('wait-ready-app.js'), { args: ['--metrics', String(port), '--wait-ready'], env: { READY_FILE: readyFile }, waitReady: 0 });
    await corral.waitForOutput(/metrics on /);
    assert.equal((await exchange(`http://127.0.0.1:${port}/readyz`, { agent: false })).status, 503);
    assert.equal((await exchange(`http://127.0.0.1:${port}/healthz`, { agent: false })).status, 200);
    writeFileSync(readyFile, '');
    await waitFor(async () => (await exchange(`http://127.0.0.1:${port}/readyz`, { agent: false })).status === 200, 10_000, '/readyz 200');
  });
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { CLI, fixture, ROOT, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';
import { freePort } from './helpers/ports';

// CI installs Debian's chromium; a missing browser is a failure, never a skip.
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the dashboard in real Chromium: slots and pids, a killed worker\'s replacement within 5 s, buttons that need the token', async (t) => {
  assert.ok(existsSync(CHROMIUM_PATH), `Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (as .ci/run does), or set CHROMIUM_PATH.`);
  const port = await freePort();
  const corral = await startCorral(t, fixture('metrics-app.js'), { args: ['--metrics', String(port), '--dashboard'] });
  const [, url, token] = /dashboard on (\S+) \(reload and scale need the token ([0-9a-f]{32})\)/.exec(corral.output())!;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(url!, { timeout: 15_000 });
  const pids = [...corral.output().matchAll(/worker (\d) \(pid (\d+)\) ready/g)].map((m) => m[2]!);
  for (const pid of pids) await page.locator('#slots td', { hasText: new RegExp(`^${pid}$`) }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#slots tr').count(), 2);

  const victim = Number(pids[1]);
  process.kill(victim, 'SIGKILL');
  const replacement = (): string | undefined => [...corral.output().matchAll(/worker 1 \(pid (\d+)\) ready/g)].map((m) => m[1]!).find((pid) => Number(pid) !== victim);
  await waitFor(() => replacement() !== undefined, 10_000, 'the replacement of the killed worker');
  const fresh = replacement()!;
  await page.locator('#slots td', { hasText: new RegExp(`^${fresh}$`) }).waitFor({ timeout: 5000 });
  const shot = join(tmpdir(), `corral-dashboard-${process.pid}.png`);
  await page.screenshot({ path: shot });
  t.diagnostic(`dashboard screenshot: ${shot}`);

  // The page shows no environment or arguments.
  const text = await page.content();
  assert.doesNotMatch(text, /PATH=|metrics-app\.js|--metrics/);

  const base = url!.replace(/\/dashboard$/, '');
  assert.equal((await exchange(`${base}/dashboard/reload`, { method: 'POST', agent: false })).status, 403);
  assert.equal((await exchange(`${base}/dashboard/scale?workers=3`, { method: 'POST', agent: false, headers: { 'x-corral-token': 'f'.repeat(32) } })).status, 403);
  const scaled = await exchange(`${base}/dashboard/scale?workers=3`, { method: 'POST', agent: false, headers: { 'x-corral-token': token! } });
  assert.equal(scaled.status, 200, scaled.body);
  await page.locator('#slots tr').nth(2).waitFor({ timeout: 10_000 });
});

test('corral status --watch redraws every second with sessions and handoffs/s', async (t) => {
  const corral = await startCorral(t, fixture('metrics-app.js'));
  const path = /control socket (\S+)/.exec(corral.output())![1]!;
  const watcher = spawn(process.execPath, [CLI, 'status', '--watch', '--control', path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => watcher.kill('SIGKILL'));
  let out = '';
  watcher.stdout.on('data', (c: Buffer) => (out += c.toString()));
  for (let i = 0; i < 5; i++) await exchange(`${corral.url}/`, { agent: false });
  await waitFor(() => (out.match(/handoffs\/s/g) ?? []).length >= 2, 10_000, 'two redraws with a rate');
  assert.match(out, /slot\s+pid\s+state\s+uptime\s+restarts\s+conns\s+sessions/);
  watcher.kill('SIGINT');
});

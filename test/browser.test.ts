import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { parseSid } from '../src/protocol/sid';
import { fixture, startCorral } from './helpers/corral';

// CI installs Debian's chromium; a missing browser is a failure, never a skip.
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const SESSIONS = 24;
const ROUND_TRIPS = 20;
/** Bounds the whole in-page run (connects and every ack); the page reports per-session errors. */
const RUN_TIMEOUT_MS = 60_000;

/** What test/fixtures/browser-app.js's `corralRun()` answers for each session. */
interface SessionReport {
  index: number;
  transports: string;
  sid: string | null;
  /** The transport in use after the last ack, or null if the session failed first. */
  transport: string | null;
  acks: number;
  pids: number[];
  errors: string[];
}

interface PageRunner {
  corralRun(sessions: number, roundTrips: number, timeoutMs: number): Promise<SessionReport[]>;
}

/** The HTTP requests one TCP connection carried, as Chromium reported them. */
interface ConnectionUse {
  responses: number;
  slots: Set<string>;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

test('24 sessions in one Chromium page, half polling-only, share its keep-alive connections and each completes 20 acks on one worker', async (t) => {
  assert.ok(
    existsSync(CHROMIUM_PATH),
    `Chromium not found at ${CHROMIUM_PATH}. Install it (apt-get install -y chromium, as .ci/run does) or point CHROMIUM_PATH at a Chromium binary; this test does not skip.`,
  );
  const corral = await startCorral(t, fixture('browser-app.js'), { workers: 2 });

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
  t.after(() => withDeadline(browser.close(), 15_000, 'closing Chromium'));
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  // Chromium's own view of the wire: which TCP connection carried each polling request.
  const connections = new Map<number, ConnectionUse>();
  const failedResponses: { text: string; sid: string | null; at: number | undefined }[] = [];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', ({ response }) => {
    const url = new URL(response.url);
    if (!url.pathname.startsWith('/socket.io/')) return;
    if (response.status >= 400) failedResponses.push({ text: `${response.status} ${url.pathname}${url.search}`, sid: url.searchParams.get('sid'), at: response.responseTime });
    const use = connections.get(response.connectionId) ?? { responses: 0, slots: new Set<string>() };
    use.responses++;
    const sid = url.searchParams.get('sid');
    if (sid !== null) use.slots.add(String(parseSid(sid)?.slot ?? sid));
    connections.set(response.connectionId, use);
  });

  await page.goto(`${corral.url}/`);
  await page.waitForFunction('document.getElementById("status").textContent === "ready"');

  const started = Date.now();
  const reports = await withDeadline(
    page.evaluate(([sessions, roundTrips, timeoutMs]) => (globalThis as unknown as PageRunner).corralRun(sessions, roundTrips, timeoutMs), [SESSIONS, ROUND_TRIPS, RUN_TIMEOUT_MS] as const),
    RUN_TIMEOUT_MS + 10_000,
    'the in-page run',
  );
  const elapsed = Date.now() - started;

  const perPid = new Map<number, number>();
  for (const r of reports) {
    const pid = r.pids[0];
    if (pid !== undefined) perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
  }
  const mixed = [...connections.values()].filter((c) => c.slots.size > 1);
  t.diagnostic(`${reports.length} sessions in ${elapsed} ms; sessions per worker pid: ${JSON.stringify(Object.fromEntries(perPid))}`);
  t.diagnostic(`transports at the end: ${reports.filter((r) => r.transport === 'websocket').length} websocket, ${reports.filter((r) => r.transport === 'polling').length} polling`);
  t.diagnostic(`${connections.size} HTTP connections carried ${[...connections.values()].reduce((n, c) => n + c.responses, 0)} Engine.IO responses; ${mixed.length} of them carried sessions of both workers`);

  const failed = reports.filter((r) => r.errors.length > 0 || r.acks !== ROUND_TRIPS);
  assert.equal(reports.length, SESSIONS);
  assert.deepEqual(
    failed.map((r) => `session ${r.index} (${r.transports}, sid ${r.sid}): ${r.acks}/${ROUND_TRIPS} acks; ${r.errors.join('; ')}`),
    [],
    `every session completes its round trips with no error\n${corral.output()}`,
  );
  // A refusal counts unless its session had begun to close when it came (a last poll racing the client's own close).
  const closing = (await page.evaluate('window.corralClosing')) as Record<string, number>;
  const refused = failedResponses.filter((f) => f.sid === null || closing[f.sid] === undefined || f.at === undefined || f.at < closing[f.sid]!);
  assert.deepEqual(refused.map((f) => f.text), [], 'no Engine.IO request is refused (e.g. 400 "Session ID unknown") before its session closes');
  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
  assert.deepEqual(
    reports.filter((r) => r.pids.length !== 1).map((r) => `session ${r.index} (sid ${r.sid}) answered by pids ${r.pids.join(',')}`),
    [],
    "every session's acks come from one worker",
  );
  assert.equal(perPid.size, 2, `both workers serve sessions: ${JSON.stringify(Object.fromEntries(perPid))}`);
  // Engine.IO's polling transport reports its sessions' slots in the query string; a connection
  // carrying both slots made its worker forward the other slot's requests.
  assert.ok(mixed.length > 0, `at least one keep-alive connection carried requests of sessions on both workers (connections: ${JSON.stringify([...connections.values()].map((c) => [...c.slots]))})`);
  assert.equal(
    reports.filter((r) => r.transports === 'polling+websocket' && r.transport !== 'websocket').length,
    0,
    'every session allowed to upgrade ends on WebSocket',
  );
});

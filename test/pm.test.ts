import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CLI, fixture, ROOT, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

interface Result {
  code: number;
  out: string;
}

/** A corral command with its own state dir, as a user runs it (bounded, without blocking this process). */
function corral(state: string, args: string[], cwd = ROOT): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, XDG_STATE_HOME: state }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), out: stdout + stderr });
    });
  });
}

/** A fresh state dir; every daemon started in it is stopped after the test. */
function stateFor(t: TestContext): { state: string; daemons: string[] } {
  const state = mkdtempSync(join(tmpdir(), 'corral-state-'));
  const daemons: string[] = [];
  t.after(async () => {
    // By each record's own pid, whatever the test left: a daemon is detached and would outlive the suite.
    for (const name of daemons) {
      const record = join(state, 'corral', 'apps', `${name}.json`);
      if (!existsSync(record)) continue;
      await corral(state, ['stop', name]);
      const { pid } = JSON.parse(readFileSync(record, 'utf8')) as { pid: number };
      // Only if that pid is still this test's daemon (a stopped one's pid may be anyone's by now).
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        // gone
      }
      if (cmdline.includes(state)) process.kill(pid, 'SIGKILL');
    }
    rmSync(state, { recursive: true, force: true });
  });
  return { state, daemons };
}

const portOf = (out: string): number => Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);

describe('a day with corral as a PM2 user', () => {
  test('start -d returns once ready; list shows it; logs shows its lines with time and slot; stop NAME stops it; restart and delete', async (t) => {
    const { state, daemons } = stateFor(t);
    daemons.push('api');
    const started = await corral(state, ['start', fixture('env-app.js'), '-d', '--name', 'api', '-w', '2', '-p', '0', '-H', '127.0.0.1']);
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /started api in the background \(pid \d+, http:\/\/127\.0\.0\.1:\d+, 2 workers\)/);
    const url = `http://127.0.0.1:${portOf(started.out)}`;
    await exchange(`${url}/log`, { agent: false });

    const list = await corral(state, ['list']);
    assert.match(list.out, /^api\s+daemon\s+online\s+\d+\s+\d+\s+2\/2\s/m);
    // Only this state dir's daemons: other corrals of this user may run meanwhile (they list as foreground here).
    const json = JSON.parse((await corral(state, ['list', '--json'])).out) as { name: string; status: string; mode: string }[];
    assert.deepEqual(json.filter((r) => r.mode === 'daemon').map((r) => [r.name, r.status]), [['api', 'online']]);

    await waitFor(async () => /hello from the app/.test((await corral(state, ['logs', 'api'])).out), 10_000, 'the app line in the log');
    const logs = (await corral(state, ['logs', 'api', '--lines', '100'])).out;
    assert.match(logs, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[corral\] worker \d \(pid \d+\) ready/m);
    assert.match(logs, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[worker \d\] hello from the app in \d+$/m);

    const before = (JSON.parse((await exchange(`${url}/`, { agent: false })).body) as { pid: number }).pid;
    const restarted = await corral(state, ['restart', 'api']);
    assert.equal(restarted.code, 0, restarted.out);
    const after = JSON.parse((await exchange(`http://127.0.0.1:${portOf(restarted.out)}/`, { agent: false })).body) as { pid: number };
    assert.notEqual(after.pid, before);

    const stopped = await corral(state, ['stop', 'api']);
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /stopped: every worker drained/);
    assert.match((await corral(state, ['list'])).out, /^api\s+daemon\s+stopped/m);
    await assert.rejects(exchange(`${url}/`, { agent: false, timeoutMs: 2000 }));

    const again = await corral(state, ['stop', 'api']);
    assert.equal(again.code, 1);
    assert.match(again.out, /api is stopped: `corral restart api` starts it again/);

    assert.equal((await corral(state, ['delete', 'api'])).code, 0);
    const rows = JSON.parse((await corral(state, ['list', '--json'])).out) as { name: string; mode: string }[];
    assert.deepEqual(rows.filter((r) => r.mode === 'daemon'), [], 'deleted: no daemon of this state dir is left');
    const gone = await corral(state, ['restart', 'api']);
    assert.equal(gone.code, 1);
    assert.match(gone.out, /no daemon is called api/);
  });

  test('start -d of an app that cannot start returns 1 with its error; a second start of a running name is refused', async (t) => {
    const { state, daemons } = stateFor(t);
    const failed = await corral(state, ['start', fixture('crash-app.js'), '-d', '-w', '1', '-p', '0', '-H', '127.0.0.1']);
    assert.equal(failed.code, 1, failed.out);
    assert.match(failed.out, /crash-app did not start[^]*never became ready[^]*cannot read config\.yml/);
    daemons.push('twice');
    assert.equal((await corral(state, ['start', fixture('env-app.js'), '-d', '--name', 'twice', '-w', '1', '-p', '0', '-H', '127.0.0.1'])).code, 0);
    const again = await corral(state, ['start', fixture('env-app.js'), '-d', '--name', 'twice', '-w', '1', '-p', '0', '-H', '127.0.0.1']);
    assert.equal(again.code, 2, again.out);
    assert.match(again.out, /a corral named twice is running already: `corral restart twice`/);
  });

  test('save and resurrect bring the saved daemons back as they were started', async (t) => {
    const { state, daemons } = stateFor(t);
    daemons.push('keep');
    const started = await corral(state, ['start', fixture('env-app.js'), '-d', '--name', 'keep', '-w', '1', '-p', '0', '-H', '127.0.0.1']);
    assert.equal(started.code, 0, started.out);
    assert.match((await corral(state, ['save'])).out, /saved 1 cluster \(keep\)/);
    assert.equal((await corral(state, ['stop', 'keep'])).code, 0);
    const back = await corral(state, ['resurrect']);
    assert.equal(back.code, 0, back.out);
    assert.match((await corral(state, ['list'])).out, /^keep\s+daemon\s+online/m);
    assert.match((await corral(state, ['resurrect'])).out, /keep: running already/);
  });

  test('NODE_APP_INSTANCE per slot, config env and env_<name> blocks with --env, --node-args for the workers', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-envs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'corral.config.js');
    writeFileSync(config, "module.exports = { env: { GREETING: 'hi', STAGE: 'dev' }, env_production: { STAGE: 'prod' } };\n");
    const running = await startCorral(t, fixture('env-app.js'), { args: ['--config', config, '--env', 'production', '--node-args', '--max-old-space-size=200 --no-warnings'] });
    const seen = new Map<string, { greeting: string; stage: string; execArgv: string[] }>();
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const body = JSON.parse((await exchange(`${running.url}/`, { agent: false })).body) as { instance: string; greeting: string; stage: string; execArgv: string[] };
      seen.set(body.instance, body);
    }
    assert.deepEqual([...seen.keys()].sort(), ['0', '1']);
    for (const body of seen.values()) {
      assert.equal(body.greeting, 'hi');
      assert.equal(body.stage, 'prod', 'env_production over env');
      assert.ok(body.execArgv.includes('--max-old-space-size=200') && body.execArgv.includes('--no-warnings'), body.execArgv.join(' '));
    }
    const missing = await corral(mkdtempSync(join(tmpdir(), 'corral-state-')), ['start', fixture('env-app.js'), '--config', config, '--env', 'staging', '-p', '0']);
    assert.equal(missing.code, 2);
    assert.match(missing.out, /no env_staging block \(it has: production\)/);
  });

  test('--watch: touching a watched file replaces every worker once (a rolling reload)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-watch-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const versionFile = join(dir, 'version');
    writeFileSync(versionFile, 'v1');
    const running = await startCorral(t, fixture('env-app.js'), { env: { VERSION_FILE: versionFile }, args: ['--watch', dir] });
    await running.waitForOutput(/watching .* for changes/);
    writeFileSync(versionFile, 'v2');
    writeFileSync(join(dir, 'other'), 'x');
    await waitFor(async () => (JSON.parse((await exchange(`${running.url}/`, { agent: false })).body) as { version: string }).version === 'v2', 20_000, 'the reloaded workers');
    await running.waitForOutput(/reload done: 2 workers replaced/, 20_000);
    assert.equal(running.output().match(/a watched file changed: rolling reload/g)?.length, 1, 'two writes, one reload');
    assert.equal(running.output().match(/reload done/g)?.length, 1);
  });

  test('a PM2 ecosystem file with two apps: `corral start` starts each detached; PM2 keys map, unknown or unsupported ones are named', async (t) => {
    const { state, daemons } = stateFor(t);
    const dir = mkdtempSync(join(tmpdir(), 'corral-eco-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'ecosystem.config.js');
    const app = (name: string, script: string, extra = ''): string => `{ name: '${name}', script: ${JSON.stringify(fixture(script))}, instances: 2, exec_mode: 'cluster', env: { GREETING: '${name}' }, port: 0, host: '127.0.0.1'${extra} }`;
    writeFileSync(file, `module.exports = { apps: [${app('one', 'env-app.js')}, ${app('two', 'env-app.js', ", merge_logs: true")}] };\n`);
    daemons.push('one', 'two');
    const started = await corral(state, ['start', '--config', file]);
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /started one in the background[^]*started two in the background/);
    const list = (await corral(state, ['list'])).out;
    assert.match(list, /^one\s+daemon\s+online\s+\d+\s+\d+\s+2\/2/m);
    assert.match(list, /^two\s+daemon\s+online/m);
    const two = /started two in the background \(pid \d+, (http:\/\/127\.0\.0\.1:\d+)/.exec(started.out)![1]!;
    assert.equal((JSON.parse((await exchange(`${two}/`, { agent: false })).body) as { greeting: string }).greeting, 'two');

    for (const [extra, message] of [
      [', autorestart: false', /apps\[0\]\.autorestart: corral always restarts/],
      [', bogus_key: 1', /apps\[0\]\.bogus_key is neither a corral option nor a PM2 key/],
    ] as const) {
      writeFileSync(file, `module.exports = { apps: [${app('bad', 'env-app.js', extra)}] };\n`);
      const refused = await corral(state, ['start', '--config', file, '--only', 'bad']);
      assert.equal(refused.code, 2, refused.out);
      assert.match(refused.out, message);
    }
  });

  test("PM2's process.send('ready') counts as ready() with --wait-ready", async (t) => {
    const running = await startCorral(t, fixture('pm2-ready-app.js'), { args: ['--wait-ready', '--ready-timeout', '10000'] });
    assert.match((await exchange(`${running.url}/`, { agent: false })).body, /^warm \d+/);
  });
});

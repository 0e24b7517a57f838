import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { CLI, fixture, ROOT } from './helpers/corral';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to its end, bounded; never rejects. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeout = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, timeout }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? -1), stdout, stderr });
    });
  });
}

/** A state dir and a runtime dir of its own, so nothing here sees another test's corrals. */
function dirsFor(cleanup: (fn: () => void) => void): NodeJS.ProcessEnv {
  const state = mkdtempSync(join(tmpdir(), 'corral-startup-state-'));
  const runtime = mkdtempSync(join(tmpdir(), 'corral-startup-run-'));
  cleanup(() => {
    rmSync(state, { recursive: true, force: true });
    rmSync(runtime, { recursive: true, force: true });
  });
  return { ...process.env, XDG_STATE_HOME: state, XDG_RUNTIME_DIR: runtime };
}

const corral = (env: NodeJS.ProcessEnv, args: readonly string[]): Promise<Result> => run(process.execPath, [CLI, ...args], env);

/** `Section.Key` -> its values, in order; comments and blank lines skipped. */
function keysOf(unit: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      section = header[1]!;
      continue;
    }
    const at = line.indexOf('=');
    assert.ok(at > 0, `not a key=value line: ${line}`);
    const key = `${section}.${line.slice(0, at)}`;
    keys.set(key, [...(keys.get(key) ?? []), line.slice(at + 1)]);
  }
  return keys;
}

/** Split a value as systemd does for the quoting the unit uses: double quotes, backslash escapes, %% and $$. */
function words(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    out.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return out;
}

/** The environment systemd gives the unit's commands: its Environment= lines, nothing else. */
function unitEnv(keys: Map<string, string[]>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const value of keys.get('Service.Environment') ?? []) {
    const [assignment] = words(value);
    const at = assignment!.indexOf('=');
    env[assignment!.slice(0, at)] = assignment!.slice(at + 1);
  }
  return env;
}

/** Write the unit as corral-test.service and run `systemd-analyze verify` on it (`--user` needs an XDG_RUNTIME_DIR in `env`). */
async function verify(t: TestContext, unit: string, scope: 'system' | 'user', env: NodeJS.ProcessEnv): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'corral-test.service');
  writeFileSync(file, unit);
  return run('/usr/bin/systemd-analyze', [...(scope === 'user' ? ['--user'] : []), 'verify', file], env, 30_000);
}

describe('corral startup systemd', () => {
  let env: NodeJS.ProcessEnv = {};
  const cleanups: (() => void)[] = [];
  const names = ['st1', 'st2'];

  before(async () => {
    env = dirsFor((fn) => cleanups.push(fn));
    for (const name of names) {
      const extra = name === 'st2' ? ['--kill-timeout', '70000'] : [];
      const started = await corral(env, ['start', fixture('slow-app.js'), '-d', '-w', '1', '-p', '0', '-H', '127.0.0.1', '--name', name, ...extra]);
      assert.equal(started.code, 0, started.stdout + started.stderr);
    }
    const saved = await corral(env, ['save']);
    assert.match(saved.stdout, /saved 2 clusters \(st1, st2\)/);
  });

  after(async () => {
    for (const name of names) await corral(env, ['stop', name]);
    for (const fn of cleanups) fn();
  });

  test('the system unit runs resurrect once, stops each saved cluster by name, and passes systemd-analyze verify', async (t) => {
    const printed = await corral(env, ['startup']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stderr, '');
    const checked = await verify(t, printed.stdout, 'system', env);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.doesNotMatch(checked.stdout + checked.stderr, /Unknown|Failed|not executable/);

    const keys = keysOf(printed.stdout);
    assert.deepEqual(keys.get('Service.Type'), ['oneshot']);
    assert.deepEqual(keys.get('Service.RemainAfterExit'), ['yes']);
    assert.deepEqual(keys.get('Service.KillMode'), ['control-group']);
    const [start] = keys.get('Service.ExecStart')!;
    assert.deepEqual(words(start!), [process.execPath, CLI, 'resurrect'], 'no "-": verify checks the node path');
    assert.ok(existsSync(words(start!)[1]!), 'the CLI path exists');
    assert.deepEqual(keys.get('Service.ExecStop')!.map(words), names.map((n) => [`-${process.execPath}`, CLI, 'stop', n]));
    assert.deepEqual(keys.get('Service.User'), [userInfo().username]);
    assert.deepEqual(keys.get('Unit.After'), ['network-online.target']);
    assert.deepEqual(keys.get('Unit.Wants'), ['network-online.target']);
    assert.deepEqual(keys.get('Install.WantedBy'), ['multi-user.target']);
    assert.deepEqual(unitEnv(keys), Object.fromEntries(['PATH', 'HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR'].filter((k) => env[k] !== undefined && env[k] !== '').map((k) => [k, env[k]])));
    assert.match(printed.stdout, /^# corral-[\w.-]+\.service: /);
    assert.match(printed.stdout, /^#\s+sudo systemctl daemon-reload$/m);
    assert.match(printed.stdout, /^#\s+sudo systemctl enable --now corral-[\w.-]+\.service$/m);
  });

  test('--user prints a user unit: WantedBy=default.target, no User=, no system targets; it passes systemd-analyze --user verify', async (t) => {
    const printed = await corral(env, ['startup', 'systemd', '--user']);
    assert.equal(printed.code, 0, printed.stderr);
    const checked = await verify(t, printed.stdout, 'user', env);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.doesNotMatch(checked.stdout + checked.stderr, /Unknown|Failed|not executable/);
    const keys = keysOf(printed.stdout);
    assert.deepEqual(keys.get('Install.WantedBy'), ['default.target']);
    assert.equal(keys.get('Service.User'), undefined);
    assert.equal(keys.get('Unit.After'), undefined);
    assert.equal(keys.get('Service.ExecStop')!.length, names.length);
    assert.match(printed.stdout, /^#\s+systemctl --user enable --now corral-[\w.-]+\.service$/m);
    assert.match(printed.stdout, /loginctl enable-linger/);
  });

  test('TimeoutStopSec outlasts the longest --kill-timeout of the saved clusters', async () => {
    const keys = keysOf((await corral(env, ['startup'])).stdout);
    assert.deepEqual(keys.get('Service.TimeoutStopSec'), ['100']);
  });

  test("the unit's ExecStart brings the saved clusters back and its ExecStop lines drain them, with only the unit's environment", async () => {
    const keys = keysOf((await corral(env, ['startup'])).stdout);
    for (const name of names) assert.equal((await corral(env, ['stop', name])).code, 0);
    const bare = unitEnv(keys);
    const [node, ...args] = words(keys.get('Service.ExecStart')![0]!);
    const started = await run(node!, args, bare);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    for (const name of names) assert.match((await corral(env, ['list'])).stdout, new RegExp(`^${name}\\s+daemon\\s+online`, 'm'));
    for (const line of keys.get('Service.ExecStop')!) {
      const [stopNode, ...stopArgs] = words(line);
      const stopped = await run(stopNode!.replace(/^-/, ''), stopArgs, bare);
      assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
      assert.match(stopped.stdout, /stopped: every worker drained/);
    }
    for (const name of names) assert.match((await corral(env, ['list'])).stdout, new RegExp(`^${name}\\s+daemon\\s+stopped`, 'm'));
  });
});

describe('corral startup, refused', () => {
  test('without a saved list it prints the unit with a comment to run corral save, and exits 1 naming corral save', async (t) => {
    const env = dirsFor((fn) => t.after(fn));
    const printed = await corral(env, ['startup']);
    assert.equal(printed.code, 1, printed.stderr);
    assert.match(printed.stderr, /no saved list at .*dump\.json[^]*run `corral save`, then `corral startup` again\. \[ERR_CORRAL_NOT_RUNNING\]/);
    assert.match(printed.stdout, /^# NOTHING IS SAVED YET \(.*dump\.json is missing\)[^]*run `corral save`/m);
    const keys = keysOf(printed.stdout);
    assert.equal(keys.get('Service.ExecStop'), undefined);
    assert.equal(keys.get('Service.ExecStart')!.length, 1);
  });

  test('a name saved but deleted since gets no ExecStop, and the comment says so', async (t) => {
    const env = dirsFor((fn) => t.after(fn));
    mkdirSync(join(env['XDG_STATE_HOME']!, 'corral'), { recursive: true, mode: 0o700 });
    writeFileSync(join(env['XDG_STATE_HOME']!, 'corral', 'dump.json'), '["gone"]\n');
    const printed = await corral(env, ['startup']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /^# Saved but deleted since, so neither started nor stopped here: gone\.$/m);
    assert.equal(keysOf(printed.stdout).get('Service.ExecStop'), undefined);
  });

  for (const init of ['openrc', 'launchd']) {
    test(`startup ${init} is refused with exit 2, pointing at the README's "Daemons and boot" section`, async (t) => {
      const printed = await corral(dirsFor((fn) => t.after(fn)), ['startup', init]);
      assert.equal(printed.code, 2);
      assert.equal(printed.stdout, '');
      assert.match(printed.stderr, /writes systemd units only, not (OpenRC|launchd): the README's "Daemons and boot" section[^]*\[ERR_CORRAL_BAD_OPTION\]/);
    });
  }

  test('an init corral does not know is refused with exit 2, naming systemd', async (t) => {
    const printed = await corral(dirsFor((fn) => t.after(fn)), ['startup', 'systemv']);
    assert.equal(printed.code, 2);
    assert.match(printed.stderr, /bad argument init: expected systemd, got "systemv"/);
  });
});

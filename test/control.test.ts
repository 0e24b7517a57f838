import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CLI, fixture, ROOT, startCorral, waitFor } from './helpers/corral';
import { freePort } from './helpers/ports';

/** Another user's uid: the tests run as root, so files can be given to `nobody`. */
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ctl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `corral start` that is expected to refuse: its exit code and stderr (bounded). */
function refusedStart(env: NodeJS.ProcessEnv, ...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, 'start', fixture('echo-io.js'), '-w', '1', '-H', '127.0.0.1', '-p', '0', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('the control socket and runtime directory cannot be squatted', () => {
  test('the runtime directory is created 0700 and the control socket 0600, both owned by us', async (t) => {
    const xdg = tempDir(t);
    const corral = await startCorral(t, fixture('echo-io.js'), { env: { XDG_RUNTIME_DIR: xdg } });
    const dir = join(xdg, 'corral');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const path = /control socket (\S+)/.exec(corral.output())![1]!;
    assert.ok(path.startsWith(`${dir}/`), path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(path).uid, process.getuid!());
  });

  for (const [what, prepare, reason] of [
    ['open to other users (mode 777)', (dir: string) => { mkdirSync(dir); chmodSync(dir, 0o777); }, /its mode is 777, open to other users/],
    ['a symbolic link', (dir: string) => { const real = `${dir}-real`; mkdirSync(real, { mode: 0o700 }); symlinkSync(real, dir); }, /it is a symbolic link/],
    ['a file', (dir: string) => { spawnSync('touch', [dir]); }, /not a directory|cannot create/],
    ...(asRoot ? [['owned by another user', (dir: string) => { mkdirSync(dir, { mode: 0o700 }); chownSync(dir, NOBODY, NOBODY); }, /belongs to uid 65534, not to you/] as const] : []),
  ] as const) {
    test(`a runtime directory that is ${what} is refused before anything is bound`, (t) => {
      const xdg = tempDir(t);
      prepare(join(xdg, 'corral'));
      const r = refusedStart({ XDG_RUNTIME_DIR: xdg });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /ERR_CORRAL_UNSAFE_RUNTIME_DIR/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
      assert.doesNotMatch(r.stdout, /listening on/);
    });
  }

  test('a --control path that is a directory, a dangling symlink or a socket of another user is refused with a message, not a stack trace', async (t) => {
    const dir = tempDir(t);
    const asDir = join(dir, 'a-dir.sock');
    mkdirSync(asDir);
    const dangling = join(dir, 'dangling.sock');
    symlinkSync(join(dir, 'nowhere'), dangling);
    const cases: [string, RegExp][] = [
      [asDir, /it is a directory/],
      [dangling, /it is a symbolic link/],
    ];
    if (asRoot) {
      const foreign = join(dir, 'foreign.sock');
      const squatter = createServer((s) => s.end('{"ok":true,"message":"reload done"}\n')).listen(foreign);
      await once(squatter, 'listening');
      t.after(() => squatter.close());
      chownSync(foreign, NOBODY, NOBODY);
      cases.push([foreign, /belongs to uid 65534, not to you/]);
    }
    for (const [path, reason] of cases) {
      const r = refusedStart({}, '--control', path);
      assert.equal(r.status, 1, `${path}: ${r.stderr}`);
      assert.match(r.stderr, reason);
      assert.match(r.stderr, /ERR_CORRAL_CONTROL_IN_USE/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
    }
  });

  test('corral reload/stop/status never talk to a control socket that is not ours', { skip: !asRoot && 'needs root to give a socket to another user' }, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'fake.sock');
    let asked = 0;
    const fake = createServer((s) => {
      asked++;
      s.end('{"ok":true,"message":"reload done"}\n');
    }).listen(path);
    await once(fake, 'listening');
    t.after(() => fake.close());
    chownSync(path, NOBODY, NOBODY);
    for (const cmd of ['reload', 'stop', 'status']) {
      const r = spawnSync(process.execPath, [CLI, cmd, '--control', path], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      assert.notEqual(r.status, 0, `${cmd}: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /reload done/);
      assert.match(r.stderr, /not talking to the control socket .*belongs to uid 65534/);
    }
    assert.equal(asked, 0, 'a command reached the foreign socket');
  });

  test('after the primary is killed with SIGKILL, its workers exit and the next start leaves nothing of it in the runtime dir', async (t) => {
    const xdg = tempDir(t);
    // One port for both starts: the second must find the first's stale control socket at the same path.
    const port = String(await freePort());
    const start = () => spawn(process.execPath, [CLI, 'start', fixture('echo-io.js'), '-w', '2', '-H', '127.0.0.1', '-p', port], { cwd: ROOT, env: { ...process.env, XDG_RUNTIME_DIR: xdg }, stdio: ['ignore', 'pipe', 'pipe'] });
    const first = start();
    let text = '';
    first.stdout!.on('data', (c: Buffer) => (text += c.toString()));
    t.after(() => first.kill('SIGKILL'));
    await waitFor(() => (text.match(/ready: serving/g) ?? []).length === 2, 20_000, 'the first corral to be ready');
    const workerPids = [...text.matchAll(/worker \d \(pid (\d+)\) ready/g)].map((m) => Number(m[1]));
    first.kill('SIGKILL');
    await once(first, 'exit');
    await waitFor(() => workerPids.every((pid) => !existsSync(`/proc/${pid}`) || /State:\s+Z/.test(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout)), 10_000, 'the orphaned workers to exit');
    const dir = join(xdg, 'corral');
    assert.ok(readdirSync(dir).some((n) => n.startsWith(`w-${first.pid}-`)), 'the dead primary left its worker dir (as SIGKILL does)');
    const second = start();
    let out = '';
    second.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    t.after(() => second.kill('SIGKILL'));
    await waitFor(() => (out.match(/ready: serving/g) ?? []).length === 2, 20_000, 'the second corral to be ready (the stale control socket replaced)');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith(`w-${first.pid}-`)), []);
    second.kill('SIGTERM');
    await once(second, 'exit');
    assert.deepEqual(readdirSync(dir), [], 'a clean stop leaves the runtime dir empty');
  });
});

import { lstatSync, mkdirSync, readdirSync, rmSync, type Stats } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '../errors';

/**
 * The directory of this user's control sockets and worker sockets: `$XDG_RUNTIME_DIR/corral`,
 * else `<tmpdir>/corral-<uid>`. Never a predictable path straight in a world-writable `/tmp`:
 * another local user could squat it. {@link ensurePrivateDir} checks it before use.
 */
export function runtimeBase(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg !== undefined && xdg !== '') return join(xdg, 'corral');
  const uid = myUid();
  return join(tmpdir(), `corral-${uid >= 0 ? uid : 'user'}`);
}

/**
 * Where `corral start` puts its control socket and where `corral status` looks: one name per
 * bound address and port, so two corrals on one machine (same port, other addresses) never
 * collide. `host` undefined means every interface.
 */
export function defaultControlPath(port: number, host: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeBase(env), `${controlName(port, host)}.sock`);
}

/** `3000` for every interface, `127.0.1.1-3000`, `--1-3000` for `::1`. */
export function controlName(port: number, host: string | undefined): string {
  return host === undefined ? String(port) : `${host.replace(/[^a-zA-Z0-9.-]/g, '-')}-${port}`;
}

/**
 * Create `dir` (mode 0700) if missing, then check it is a real directory (not a symlink), owned
 * by this user and closed to everyone else. Throws `ERR_CORRAL_UNSAFE_RUNTIME_DIR` otherwise.
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new CorralError('ERR_CORRAL_UNSAFE_RUNTIME_DIR', `cannot create corral's runtime directory ${dir}: ${(err as Error).message}. Set XDG_RUNTIME_DIR to a directory of yours, or pass --control PATH.`, { cause: err });
    }
  }
  const stat = lstatSync(dir);
  const me = myUid();
  const uid = me >= 0 ? me : stat.uid;
  const problem = stat.isSymbolicLink()
    ? 'it is a symbolic link'
    : !stat.isDirectory()
      ? 'it is not a directory'
      : stat.uid !== uid
        ? `it belongs to uid ${stat.uid}, not to you (uid ${uid})`
        : (stat.mode & 0o077) !== 0
          ? `its mode is ${(stat.mode & 0o777).toString(8)}, open to other users (must be 700)`
          : undefined;
  if (problem !== undefined) {
    throw new CorralError('ERR_CORRAL_UNSAFE_RUNTIME_DIR', `refusing corral's runtime directory ${dir}: ${problem}. Someone may be squatting it: remove it, or set XDG_RUNTIME_DIR to a private directory of yours.`);
  }
}

/** This user's uid (the owner every corral file must have). */
export function myUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/**
 * What is wrong with an existing file at a control socket path, or undefined when it is a
 * socket of ours (or nothing is there). Never follows a symlink: one planted there could point
 * the primary (or `corral stop`) at someone else's socket.
 */
export function controlPathProblem(path: string): string | undefined {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch {
    return undefined;
  }
  if (stat.isSymbolicLink()) return 'it is a symbolic link';
  if (stat.isDirectory()) return 'it is a directory';
  if (!stat.isSocket()) return 'it is not a socket';
  const uid = myUid();
  if (uid >= 0 && stat.uid !== uid) return `it belongs to uid ${stat.uid}, not to you (uid ${uid})`;
  return undefined;
}

/** Prefix of the directory of a primary's worker sockets, inside the runtime dir: `w-<pid>-`. */
export function workerDirPrefix(pid: number = process.pid): string {
  return `w-${pid}-`;
}

/**
 * Remove what primaries that died without cleaning up (SIGKILL, a crash) left in the runtime
 * dir: their worker-socket directories, found by the dead pid in the name, and control
 * sockets of ours that nobody answers on.
 */
export async function sweepStale(base: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  const sockets: Promise<void>[] = [];
  for (const name of names) {
    const path = join(base, name);
    const m = /^w-(\d+)-/.exec(name);
    if (m !== null) {
      if (!alive(Number(m[1]))) rmSync(path, { recursive: true, force: true });
    } else if (name.endsWith('.sock') && controlPathProblem(path) === undefined) {
      sockets.push(
        probeSocket(path).then((probe) => {
          if (probe === 'refused') rmSync(path, { force: true });
        }),
      );
    }
  }
  await Promise.all(sockets);
}

/**
 * Knock on a Unix socket: `answers` (something listens), `refused` (nobody does: its server
 * died and left the file), or `unknown` (no such file, no answer within a second, other errors).
 */
export function probeSocket(path: string): Promise<'answers' | 'refused' | 'unknown'> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve('unknown');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('answers');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

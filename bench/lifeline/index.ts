/**
 * Every process the bench starts dies with the bench, however the bench dies (SIGKILL too):
 * each is started through watchdog.sh as the leader of a new process group, with a lifeline
 * (a socketpair) the bench holds one end of. Node has no PR_SET_PDEATHSIG; when the bench's end
 * closes, the watcher SIGKILLs the group. Closing it on purpose (`cut()`, and on the leader's
 * exit) does the same, so a stop ends with it: nothing of the group is left, nor its watcher.
 */
import { spawn, type ChildProcess, type IOType, type SpawnOptions, type StdioNull, type StdioPipe } from 'node:child_process';
import path from 'node:path';
import type { Socket } from 'node:net';

const WATCHDOG = path.join(__dirname, 'watchdog.sh');

/** A started group and the bench's end of its lifeline. */
export interface Tied {
  /** The command itself (the watchdog execs it), leader of its own process group. */
  child: ChildProcess;
  /** SIGKILLs whatever is left of the group, now (closes the lifeline). Idempotent. */
  cut(): void;
}

function hold(end: Socket | null | undefined): () => void {
  if (!end) throw new Error('lifeline: no socket for the lifeline fd');
  // It must never keep the bench alive, and the watcher's exit is no error of ours.
  end.unref();
  end.on('error', () => undefined);
  return () => end.destroy();
}

/** One entry of spawn's stdio array. */
export type StdioEntry = IOType | 'ipc' | StdioNull | StdioPipe | number;

/**
 * Spawns `command args` in a new process group tied to the bench. `stdio` is as spawn's, fds
 * 0..n-1; the lifeline takes the next fd (so an 'ipc' entry keeps its place and its
 * NODE_CHANNEL_FD). `detached` is always true: the watcher kills its own group.
 */
export function spawnTied(command: string, args: readonly string[], options: Omit<SpawnOptions, 'stdio' | 'detached'> & { stdio: StdioEntry[] }): Tied {
  const fd = options.stdio.length;
  if (fd < 3 || fd > 9) throw new Error(`lifeline: stdio must have 3..9 entries, got ${fd}`);
  const child = spawn('/bin/sh', [WATCHDOG, 'run', String(fd), command, ...args], {
    ...options,
    stdio: [...options.stdio, 'pipe'],
    detached: true,
  });
  const cut = hold(child.stdio[fd] as Socket | null);
  // Once the leader is gone nothing of its group has a reason to live (orphaned workers).
  child.once('exit', cut);
  return { child, cut };
}

/**
 * For a group someone else started (the tests' nginx launcher): SIGKILL it if the bench dies.
 * Returns the cut for a normal stop, to call once the group is stopped.
 */
export function guardGroup(pgid: number): () => void {
  const guard = spawn('/bin/sh', [WATCHDOG, 'guard', '3', String(pgid)], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'], detached: true });
  guard.unref();
  return hold(guard.stdio[3] as Socket | null);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { Cleanup } from './corral';
import { freePort } from './ports';

/** A `redis-server` of the test's own, on a free port of 127.0.0.1, keeping nothing on disk. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL it (a crash, as the workers see it). */
  kill(): Promise<void>;
  /** Start it again on the same port (empty, as after a crash without persistence). */
  restart(): Promise<void>;
  /** Stop it for good. Idempotent. */
  stop(): Promise<void>;
}

/** Start a Redis server; fails (never skips) when `redis-server` cannot run. Stopped after the test or suite. */
export async function startRedis(t: Cleanup): Promise<TestRedis> {
  const port = await freePort('127.0.0.1');
  let proc: ChildProcess | undefined;
  const run = async (): Promise<void> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const failed = once(child, 'error').then(([err]) => {
      throw new Error(`cannot start redis-server (apt-get install -y redis-server): ${(err as Error).message}`);
    });
    proc = child;
    await Promise.race([failed, answersPing(port, 10_000, () => output)]);
  };
  const kill = async (): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await run();
  const redis: TestRedis = { port, url: `redis://127.0.0.1:${port}`, kill, restart: run, stop: kill };
  if (t !== 'suite') t.after(() => redis.stop());
  return redis;
}

/** Wait until a Redis on `port` answers PING, with a deadline. */
async function answersPing(port: number, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await redisAnswers(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms:\n${output()}`);
}

/** One PING to a Redis on 127.0.0.1:`port`: whether it answered PONG within a second. */
export function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(text.startsWith('+PONG')));
    socket.on('error', () => undefined);
  });
}

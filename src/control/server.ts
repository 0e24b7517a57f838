import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { CorralError } from '../errors';
import { trace } from '../log';
import { workersOf } from '../options';
import { controlPathProblem, probeSocket } from './paths';
import type { ControlRequest, ControlResponse, PrimaryStatus, ReloadReport, WorkerStatus } from './protocol';

/** What the control socket can ask of the primary. */
export interface Controllable {
  primaryStatus(): PrimaryStatus;
  status(): WorkerStatus[];
  reload(): Promise<ReloadReport>;
  scale(workers: number): void;
  /** Stop gracefully; resolves the exit code (0: every worker drained). */
  stop(): Promise<number>;
}

const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * The control socket: a Unix socket, mode 0600 (only its owner may reload or stop corral),
 * speaking one JSON line each way. A socket file left by a corral that died is replaced;
 * one that still answers is someone else's, and starting fails.
 */
export async function serveControl(path: string, target: Controllable): Promise<{ close(): void }> {
  const problem = controlPathProblem(path);
  if (problem !== undefined) {
    throw new CorralError('ERR_CORRAL_CONTROL_IN_USE', `refusing the control socket path ${path}: ${problem}. Remove it if it is yours, or give corral another --control path (in a directory only you can write).`);
  }
  if ((await probeSocket(path)) === 'answers') {
    throw new CorralError('ERR_CORRAL_CONTROL_IN_USE', `another corral answers on the control socket ${path}. Stop it (corral stop --control ${path}), or give this one another --control path.`);
  }
  // A socket of ours that nobody answers on: left by a corral that died.
  rmSync(path, { force: true });
  const server = createServer((socket) => handle(socket, target));
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  server.on('error', (err) => trace.primary('control socket error: %s', err.message));
  let closed = false;
  return {
    close(): void {
      if (closed) return;
      closed = true;
      closeServer(server, path);
    },
  };
}

function closeServer(server: Server, path: string): void {
  server.close();
  rmSync(path, { force: true });
}

function handle(socket: Socket, target: Controllable): void {
  let text = '';
  socket.setEncoding('utf8');
  socket.setTimeout(60_000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > MAX_REQUEST_BYTES) {
      reply(socket, { ok: false, error: 'request too large' });
      return;
    }
    const end = text.indexOf('\n');
    if (end < 0) return;
    socket.removeAllListeners('data');
    void answer(text.slice(0, end), target, socket).then((response) => reply(socket, response));
  });
}

function reply(socket: Socket, response: ControlResponse): void {
  socket.end(`${JSON.stringify(response)}\n`);
}

async function answer(line: string, target: Controllable, socket: Socket): Promise<ControlResponse> {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
  } catch {
    return { ok: false, error: 'not JSON: send one JSON object per line, e.g. {"cmd":"status"}' };
  }
  switch (request?.cmd) {
    case 'status':
      return { ok: true, primary: target.primaryStatus(), workers: target.status() };
    case 'reload': {
      const report = await target.reload();
      return report.ok ? { ok: true, message: report.message } : { ok: false, error: report.message };
    }
    case 'stop': {
      if (request.wait !== true) {
        setImmediate(() => void target.stop());
        return { ok: true, message: 'stopping: workers are draining' };
      }
      // The drain takes up to --kill-timeout, which may be long: the answer is the outcome.
      socket.setTimeout(0);
      const code = await target.stop();
      return code === 0 ? { ok: true, message: 'stopped: every worker drained' } : { ok: false, error: 'stopped, but not cleanly: some worker had to be killed or did not drain, or the app could not run (its log says which)' };
    }
    case 'scale': {
      let n: number;
      try {
        n = workersOf(request.workers);
        target.scale(n);
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
      return { ok: true, message: `scaling to ${n} ${n === 1 ? 'worker' : 'workers'}` };
    }
    default:
      return { ok: false, error: `unknown command ${JSON.stringify((request as { cmd?: unknown })?.cmd)}: expected status, reload, stop or scale` };
  }
}

import { connect } from 'node:net';
import { CorralError } from '../errors';
import { controlPathProblem } from './paths';
import type { ControlRequest, ControlResponse } from './protocol';

/** Send one request to a running corral's control socket and return its answer (`timeoutMs` 0: wait as long as it takes). */
export function control(path: string, request: ControlRequest, timeoutMs = 120_000): Promise<ControlResponse> {
  // Whoever answers on a socket we do not own could claim "reload done": do not ask it.
  const problem = controlPathProblem(path);
  if (problem !== undefined) {
    return Promise.reject(new CorralError('ERR_CORRAL_CONTROL_FAILED', `not talking to the control socket ${path}: ${problem}. It is not a corral of yours; check --port/--host/--control.`));
  }
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    socket.setEncoding('utf8');
    if (timeoutMs > 0) socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      if (text === '' && request.cmd === 'stop') {
        reject(new CorralError('ERR_CORRAL_CONTROL_FAILED', `the corral on ${path} ended before it told how its stop went; its log says.`));
        return;
      }
      try {
        resolve(JSON.parse(text) as ControlResponse);
      } catch {
        reject(new CorralError('ERR_CORRAL_CONTROL_FAILED', `the control socket ${path} answered something that is not corral's: ${JSON.stringify(text.slice(0, 200))}`));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new CorralError('ERR_CORRAL_NOT_RUNNING', `no corral is running here: there is no control socket at ${path}. Start one with \`corral start app.js\`, or point at it with --port N or --control PATH.`));
      } else if (err.code === 'ECONNREFUSED') {
        reject(new CorralError('ERR_CORRAL_NOT_RUNNING', `stale control socket ${path}: the corral that made it is gone. Remove the file, or start corral again.`));
      } else {
        reject(new CorralError('ERR_CORRAL_CONTROL_FAILED', `control socket ${path}: ${err.message}`));
      }
    });
  });
}

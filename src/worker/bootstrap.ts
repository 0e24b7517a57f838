/**
 * Entry point of every corral worker process: set corral up, then run the user's app as
 * the main module (CommonJS or ESM), unchanged, with its own `process.argv`.
 */
import { runMain } from '../internal/cluster';
import { readWorkerEnv } from '../protocol/worker-env';
import { setRuntime, WorkerRuntime } from './runtime';

const env = readWorkerEnv();
if (env === undefined) {
  process.stderr.write('corral: worker/bootstrap.js runs inside `corral start`; start your app with `corral start app.js`.\n');
  process.exit(1);
}

const runtime = new WorkerRuntime(env);
setRuntime(runtime);
runtime.install();

process.argv = [process.argv[0]!, env.app, ...process.argv.slice(2)];
runMain(env.app);

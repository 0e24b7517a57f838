'use strict';
// Shared by the peer runners: fork the app as cluster workers, say when each is ready,
// and take the workers down with the primary.
const cluster = require('node:cluster');
const path = require('node:path');

const APP = path.join(__dirname, '..', 'app.js');

/** Reads PORT, HOST and WORKERS from the environment the bench gives the runner. */
function config() {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('runner: PORT must be set');
  const workers = Number(process.env.WORKERS || 2);
  return { port, host: process.env.HOST || '127.0.0.1', workers };
}

/** Prints one `ready` line per worker that reports its server is set up. */
function reportReady() {
  cluster.on('message', (worker, msg) => {
    if (msg && msg.bench === 'ready') process.stdout.write(`bench-runner: worker ${msg.pid} ready\n`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) process.stderr.write(`bench-runner: worker ${worker.process.pid} exited (${signal || code})\n`);
  });
}

let stopping = false;
/** On SIGTERM/SIGINT or a closed stdin (the bench died), kill the workers, then exit. */
function exitWithWorkers() {
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers || {})) if (w) w.process.kill('SIGKILL');
    // Exit at once: sticky-session would respawn the workers it sees exit.
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

module.exports = { APP, config, reportReady, exitWithWorkers };

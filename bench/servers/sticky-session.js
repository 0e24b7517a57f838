'use strict';
// sticky-session 1.x: the primary hashes the client IP and sends the paused socket to a
// worker. Its Master is used directly so it binds 127.0.0.1, not every interface.
const cluster = require('node:cluster');
const { Master } = require('sticky-session');
const { setupPrimary } = require('@socket.io/cluster-adapter');
const { APP, config, reportReady, exitWithWorkers } = require('./common');

const { port, host, workers } = config();
cluster.setupPrimary({ exec: APP });
setupPrimary();
reportReady();
exitWithWorkers();
// Master forks its workers once it listens, with this env, and respawns any that exit.
const master = new Master(workers, { BENCH_MODE: 'sticky-session', PORT: String(port), HOST: host });
master.listen(port, host);

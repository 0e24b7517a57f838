'use strict';
// Node's cluster, round-robin: the primary accepts and hands each connection to the next
// worker, with no notion of sessions. @socket.io/cluster-adapter carries broadcasts.
const cluster = require('node:cluster');
const { setupPrimary } = require('@socket.io/cluster-adapter');
const { APP, config, reportReady, exitWithWorkers } = require('./common');

const { port, host, workers } = config();
cluster.schedulingPolicy = cluster.SCHED_RR;
cluster.setupPrimary({ exec: APP });
setupPrimary();
reportReady();
exitWithWorkers();
for (let i = 0; i < workers; i++) cluster.fork({ BENCH_MODE: 'cluster', PORT: String(port), HOST: host });

'use strict';
// @socket.io/sticky 2.x: the primary reads the first chunk of each connection, maps the
// sid to a worker (least-connection for new sessions) and sends the socket there.
const cluster = require('node:cluster');
const http = require('node:http');
const { setupMaster } = require('@socket.io/sticky');
const { setupPrimary } = require('@socket.io/cluster-adapter');
const { APP, config, reportReady, exitWithWorkers } = require('./common');

const { port, host, workers } = config();
// The primary sends the first chunk as a Buffer: JSON serialization would turn it into an object.
cluster.setupPrimary({ exec: APP, serialization: 'advanced' });
const httpServer = http.createServer();
setupMaster(httpServer, { loadBalancingMethod: 'least-connection' });
setupPrimary();
reportReady();
exitWithWorkers();
httpServer.listen(port, host, () => {
  for (let i = 0; i < workers; i++) cluster.fork({ BENCH_MODE: 'sticky-io', PORT: String(port), HOST: host });
});

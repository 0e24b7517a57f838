'use strict';
// The one Socket.IO + HTTP app every contender runs.
//
// BENCH_MODE says who runs it, because each peer wants the server wired differently:
//   single          listen on PORT/HOST, no adapter
//   cluster         cluster worker, cluster-adapter, listen (Node's round-robin shares the port)
//   sticky-io       cluster worker, cluster-adapter, @socket.io/sticky setupWorker, no listen
//   sticky-session  cluster worker, cluster-adapter, sticky-session hands sockets in, no listen
//   corral          corral's worker: attach(io) sets the sid generator and the adapter
// Every answer carries process.pid so the client can count sessions per worker.
const http = require('node:http');
const { Server } = require('socket.io');

const mode = process.env.BENCH_MODE || 'single';
const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
const pid = process.pid;
const healthBody = JSON.stringify({ pid });

// When each connection reached this process's http server, CLOCK_MONOTONIC ns (shared by every
// process on a Linux machine): the handoff-latency workload compares it with the moment its
// connect completed. Only GET /conn-ns reads it; one clock read per connection is all the
// other workloads pay.
const CONN_NS = Symbol('connNs');

const httpServer = http.createServer((req, res) => {
  if (req.url === '/conn-ns') {
    const body = String(req.socket[CONN_NS] ?? 0);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
    return;
  }
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': healthBody.length });
    res.end(healthBody);
    return;
  }
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
    res.end('hello');
    return;
  }
  res.writeHead(404, { 'content-length': 0 });
  res.end();
});

httpServer.on('connection', (socket) => {
  socket[CONN_NS] = process.hrtime.bigint();
});

// Engine.IO's defaults (ping every 25 s, 20 s to answer) unless the idle and soak benches ask
// for more pings within their hold (BENCH_PING_INTERVAL_MS, BENCH_PING_TIMEOUT_MS).
const pingOptions = {};
if (process.env.BENCH_PING_INTERVAL_MS) pingOptions.pingInterval = Number(process.env.BENCH_PING_INTERVAL_MS);
if (process.env.BENCH_PING_TIMEOUT_MS) pingOptions.pingTimeout = Number(process.env.BENCH_PING_TIMEOUT_MS);
// BENCH_RECOVERY=1: Socket.IO's connection-state recovery on (what it costs a broadcast).
const recovery = process.env.BENCH_RECOVERY === '1' ? { connectionStateRecovery: {} } : {};
const io = new Server(httpServer, { serveClient: false, ...pingOptions, ...recovery });

io.on('connection', (socket) => {
  socket.on('pid', (ack) => {
    if (typeof ack === 'function') ack(pid);
  });
  socket.on('echo', (data, ack) => {
    if (typeof ack === 'function') ack(data);
  });
  // One client asks for a broadcast; the adapter carries it to the other workers.
  socket.on('burst', (seq, ack) => {
    io.emit('b', seq);
    if (typeof ack === 'function') ack();
  });
});

function announceReady() {
  if (typeof process.send === 'function') process.send({ bench: 'ready', pid });
}

switch (mode) {
  case 'single':
    httpServer.listen(port, host);
    // The bench holds our stdin: when it goes away, so do we (the runners do the same).
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
    break;
  case 'cluster': {
    io.adapter(require('@socket.io/cluster-adapter').createAdapter());
    httpServer.listen(port, host, announceReady);
    break;
  }
  case 'sticky-io': {
    io.adapter(require('@socket.io/cluster-adapter').createAdapter());
    require('@socket.io/sticky').setupWorker(io);
    announceReady();
    break;
  }
  case 'sticky-session': {
    io.adapter(require('@socket.io/cluster-adapter').createAdapter());
    // In a worker, listen() only registers the handler for sockets the primary sends.
    require('sticky-session').listen(httpServer, port);
    announceReady();
    break;
  }
  case 'corral': {
    require('corral').attach(io);
    httpServer.listen(port);
    break;
  }
  default:
    throw new Error(`bench/app.js: unknown BENCH_MODE ${mode}`);
}

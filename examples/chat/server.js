// The corral demo: a Socket.IO chat, written as an ordinary single-process app.
// The one corral line is attach(io). Run it alone (`node examples/chat/server.js`) or on
// every core (`npm run demo`); each message shows which worker served it.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { Server } = require('socket.io');
const { attach, workerSlot } = require('corral');

const page = fs.readFileSync(path.join(__dirname, 'index.html'));

// The worker this process is: its slot under corral, null when run alone.
const worker = { slot: workerSlot() ?? null, pid: process.pid };

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && (pathname === '/' || pathname === '/index.html')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(page);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
});

const io = new Server(server);
attach(io);

const MAX_NICK = 32;
const MAX_TEXT = 500;
let seq = 0;

io.on('connection', (socket) => {
  // Tell the browser which worker holds its connection: that worker delivers every message it sees.
  socket.emit('welcome', { worker, sid: socket.conn.id });

  socket.on('chat', (input, ack) => {
    const nick = typeof input?.nick === 'string' ? input.nick.trim().slice(0, MAX_NICK) : '';
    const text = typeof input?.text === 'string' ? input.text.trim().slice(0, MAX_TEXT) : '';
    if (nick === '' || text === '') {
      if (typeof ack === 'function') ack({ ok: false, error: 'nickname and message must not be empty' });
      return;
    }
    const message = { id: `${process.pid}-${++seq}`, sender: socket.id, nick, text, at: Date.now(), from: worker };
    // A plain broadcast: under corral it reaches the clients of every worker.
    io.emit('chat', message);
    if (typeof ack === 'function') ack({ ok: true, id: message.id });
  });
});

const port = Number(process.env.PORT) || 3000;
server.listen(port, () => {
  const where = worker.slot === null ? 'single process' : `worker ${worker.slot}`;
  console.log(`chat (${where}, pid ${process.pid}) on http://localhost:${port}/`);
});

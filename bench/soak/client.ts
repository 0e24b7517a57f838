/**
 * The soak's load process: steady mixed load until told to stop. Plain HTTP on new connections
 * at a fixed rate (open loop, each failure kept with its start and end on the shared monotonic
 * clock so the bench can tell those in flight at a kill), Socket.IO polling and WebSocket
 * clients doing acked echoes; a client whose session ends (a killed or reloaded worker) is
 * counted and reconnected.
 */
import { io, type Socket } from 'socket.io-client';
import http from 'node:http';
import { addressFor, sleep } from '../workloads/common';
import { get, oneShot } from '../workloads/raw-http';
import type { FromSoakClient, SoakLoad, SoakLoadResult, ToSoakClient } from './protocol';

const MAX_LISTED = 10_000;
const MAX_INFLIGHT = 500;
let running = false;
const result: SoakLoadResult = {
  http: { attempted: 0, ok: 0, failures: [], failuresNotListed: 0, shed: 0 },
  sio: { echoes: 0, echoFailed: 0, disconnects: [], reconnectFailed: 0 },
};
const sockets = new Set<Socket>();
const timers = new Set<NodeJS.Timeout>();

function send(msg: FromSoakClient): void {
  if (process.connected) process.send?.(msg);
}

async function httpLoop(l: SoakLoad): Promise<void> {
  const request = get('/', l.host, l.port);
  let inflight = 0;
  let due = 0;
  const t0 = performance.now();
  while (running) {
    const target = Math.floor(((performance.now() - t0) / 1000) * l.httpPerSec);
    for (; due < target; due++) {
      if (inflight >= MAX_INFLIGHT) {
        result.http.shed++;
        continue;
      }
      inflight++;
      result.http.attempted++;
      const start = process.hrtime.bigint();
      oneShot(l.host, l.port, addressFor(l.addresses, due), request, l.deadlineMs)
        .then(
          (res) => (res.status === 200 && res.body === 'hello' ? null : `HTTP ${res.status}`),
          (e: Error) => e.message,
        )
        .then((why) => {
          inflight--;
          if (why === null) return void result.http.ok++;
          if (result.http.failures.length < MAX_LISTED) result.http.failures.push({ startNs: String(start), endNs: String(process.hrtime.bigint()), reason: why });
          else result.http.failuresNotListed++;
        });
    }
    await sleep(5);
  }
  for (let i = 0; inflight > 0 && i < 1000; i++) await sleep(20);
}

/** One Socket.IO client for the whole soak: echoes while connected, reconnects (ours, bounded) when dropped. */
function sioClient(l: SoakLoad, i: number, transport: 'polling' | 'websocket'): Promise<boolean> {
  const localAddress = addressFor(l.addresses, i);
  const agent = new http.Agent({ keepAlive: true, localAddress });
  const socket = io(l.url, { transports: [transport], reconnection: false, forceNew: true, agent: agent as unknown as string, localAddress } as Parameters<typeof io>[1]);
  sockets.add(socket);
  const tick = (): void => {
    if (!running || !socket.connected) return;
    socket.timeout(l.deadlineMs).emit('echo', 'x', (err: Error | null) => {
      if (err) result.sio.echoFailed++;
      else result.sio.echoes++;
    });
  };
  const timer = setInterval(tick, l.echoMs);
  timers.add(timer);
  socket.on('disconnect', (reason) => {
    if (!running) return;
    result.sio.disconnects.push({ tNs: String(process.hrtime.bigint()), reason, transport });
    void reconnect();
  });
  const reconnect = async (): Promise<void> => {
    for (let attempt = 0; running && attempt < 50; attempt++) {
      await sleep(200 + Math.random() * 300);
      // socket.io-client reconnects by itself too: one already back is not a failure.
      if (!running || socket.connected) return;
      socket.connect();
      const ok = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), l.deadlineMs);
        socket.once('connect', () => (clearTimeout(t), resolve(true)));
        socket.once('connect_error', () => (clearTimeout(t), resolve(false)));
      });
      if (ok) return;
    }
    if (running && !socket.connected) result.sio.reconnectFailed++;
  };
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), l.deadlineMs);
    socket.once('connect', () => (clearTimeout(t), resolve(true)));
    socket.once('connect_error', () => (clearTimeout(t), resolve(false)));
  });
}

async function start(l: SoakLoad): Promise<void> {
  running = true;
  let polling = 0;
  let websocket = 0;
  for (let i = 0; i < l.polling; i++) if (await sioClient(l, i, 'polling')) polling++;
  for (let i = 0; i < l.websocket; i++) if (await sioClient(l, l.polling + i, 'websocket')) websocket++;
  send({ type: 'started', polling, websocket });
  await httpLoop(l);
}

let loop: Promise<void> | null = null;
process.on('message', (raw: unknown) => {
  const m = raw as ToSoakClient;
  if (m.type === 'start') {
    loop = start(m.load).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) }));
    return;
  }
  running = false;
  void (loop ?? Promise.resolve()).then(() => {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.disconnect();
    send({ type: 'result', result });
  });
});

process.on('disconnect', () => process.exit(0));
send({ type: 'hello' });

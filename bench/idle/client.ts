/**
 * A client process of the idle bench: holds many Socket.IO connections, WebSocket only, with a
 * raw `ws` client speaking Engine.IO 4 / Socket.IO 5 itself (a few kB per connection where
 * socket.io-client takes tens): open packet `0{..}`, namespace connect `40` -> `40{sid}`, the
 * app's acked `pid` event `42N["pid"]` -> `43N[pid]`, and a pong `3` for every ping `2`.
 */
import WebSocket from 'ws';
import { pool } from '../workloads/common';
import type { FromIdleClient, Reasons, ToIdleClient } from './protocol';

interface Conn {
  ws: WebSocket;
  pid: number;
  ready: boolean;
  /** Set when it closed after being ready. */
  dropped: string | null;
  /** Resolves the pending acked 'pid' question, if any. */
  answer: ((pid: number) => void) | null;
}

const conns: Conn[] = [];
let pings = 0;

function send(msg: FromIdleClient): void {
  if (process.connected) process.send?.(msg);
}

const count = (r: Reasons, why: string): void => void (r[why] = (r[why] ?? 0) + 1);

/** One connection, ready (its pid known) or the reason it is not, within `deadlineMs`. */
function openOne(url: string, localAddress: string, deadlineMs: number): Promise<Conn | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: deadlineMs });
    const c: Conn = { ws, pid: 0, ready: false, dropped: null, answer: null };
    let settled = false;
    const settle = (v: Conn | string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (typeof v === 'string') ws.terminate();
      resolve(v);
    };
    const timer = setTimeout(() => settle('hung'), deadlineMs);
    ws.on('message', (data: Buffer) => {
      const s = data.toString();
      if (s === '2') {
        pings++;
        ws.send('3');
      } else if (s.startsWith('0')) ws.send('40');
      else if (s.startsWith('40')) ws.send('420["pid"]');
      else if (s.startsWith('44')) settle(`connect refused: ${s.slice(2, 80)}`);
      else if (s.startsWith('43')) {
        const m = /^43(\d+)\[(\d+)\]/.exec(s);
        if (!m) return;
        const pid = Number(m[2]);
        if (m[1] === '0') {
          c.pid = pid;
          c.ready = true;
          settle(c);
        } else {
          const a = c.answer;
          c.answer = null;
          a?.(pid);
        }
      }
    });
    ws.on('error', (e: NodeJS.ErrnoException) => settle(e.code ?? e.message));
    ws.on('close', (code: number) => {
      if (c.ready) c.dropped ??= `closed (${code})`;
      settle(`closed before ready (${code})`);
    });
  });
}

async function open(m: Extract<ToIdleClient, { type: 'open' }>): Promise<void> {
  const t0 = performance.now();
  const reasons: Reasons = {};
  const pids: Record<string, number> = {};
  let failed = 0;
  await pool(m.count, m.concurrency, async (k) => {
    const i = m.from + k;
    const r = await openOne(m.url, m.addresses[i % m.addresses.length] ?? '127.0.0.1', m.deadlineMs);
    if (typeof r === 'string') {
      failed++;
      count(reasons, r);
      return;
    }
    conns.push(r);
    pids[String(r.pid)] = (pids[String(r.pid)] ?? 0) + 1;
  });
  send({ type: 'opened', connected: conns.length, failed, reasons, pids, ms: performance.now() - t0 });
}

async function check(deadlineMs: number): Promise<void> {
  const pids: Record<string, number> = {};
  let answered = 0;
  // 1000 questions in flight at most: the check must not look like a burst the app chokes on.
  await pool(conns.length, 1000, async (k) => {
    const c = conns[k] as Conn;
    if (c.dropped !== null) return;
    const pid = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), deadlineMs);
      c.answer = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      c.ws.send('421["pid"]');
    });
    if (pid === null) return;
    answered++;
    pids[String(pid)] = (pids[String(pid)] ?? 0) + 1;
  });
  send({ type: 'checked', answered, unanswered: conns.length - answered, pids });
}

function report(): void {
  const reasons: Reasons = {};
  let dropped = 0;
  for (const c of conns) {
    if (c.dropped === null) continue;
    dropped++;
    count(reasons, c.dropped);
  }
  send({ type: 'report', alive: conns.length - dropped, dropped, reasons, pings });
}

process.on('message', (raw: unknown) => {
  const m = raw as ToIdleClient;
  const fail = (e: unknown): void => send({ type: 'error', message: e instanceof Error ? e.stack ?? e.message : String(e) });
  switch (m.type) {
    case 'open':
      open(m).catch(fail);
      break;
    case 'check':
      check(m.deadlineMs).catch(fail);
      break;
    case 'report':
      report();
      break;
    case 'close':
      for (const c of conns) c.ws.terminate();
      send({ type: 'closed' });
      break;
  }
});

// The bench died or let go: nothing left to do here.
process.on('disconnect', () => process.exit(0));
send({ type: 'hello' });

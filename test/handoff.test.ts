import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, startCorral, statusOf } from './helpers/corral';
import { countResponses, rawExchange, type RawResult } from './helpers/raw';

const CONNECTIONS = 2000;
const CONCURRENCY = 200;

/** Four ways a handoff can lose bytes: each connection uses one, by its number. */
function scenario(i: number): { pieces: (string | Buffer)[]; done: (text: string) => boolean } {
  const host = 'Host: test\r\n';
  switch (i % 4) {
    case 0: // two pipelined requests in one packet: the second is past the request line
      return { pieces: [`GET /a/${i} HTTP/1.1\r\n${host}\r\nGET /b/${i} HTTP/1.1\r\n${host}\r\n`], done: (t) => countResponses(t) === 2 };
    case 1: // the request line split over several packets, the head in another
      return { pieces: ['GE', `T /spl`, `it/${i} HT`, `TP/1.1\r`, `\n${host}`, '\r\n'], done: (t) => countResponses(t) === 1 };
    case 2: {
      // a body in the same packet as the head (echoed back chunked)
      const body = `payload-${i}-${'z'.repeat(i % 500)}`;
      return { pieces: [`POST /echo HTTP/1.1\r\n${host}Content-Length: ${body.length}\r\n\r\n${body}`], done: (t) => t.includes(`\r\n${body}\r\n0\r\n\r\n`) };
    }
    default: // an upgrade with protocol bytes right after the head
      return {
        pieces: [`GET /up/${i} HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: echo\r\n\r\nhello-${i};`, `more-${i}.`],
        done: (t) => t.includes('101 Switching') && t.endsWith(`hello-${i};more-${i}.`),
      };
  }
}

async function hammer(port: number): Promise<{ failures: string[]; pids: Set<string> }> {
  const failures: string[] = [];
  const pids = new Set<string>();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < CONNECTIONS) {
      const i = next++;
      const { pieces, done } = scenario(i);
      // Clients from 32 addresses, as real traffic (and so ip routing uses both workers).
      const r: RawResult = await rawExchange(port, pieces, done, 15_000, `127.0.0.${2 + (i % 32)}`);
      if (!r.matched) failures.push(`#${i} (kind ${i % 4}): ${JSON.stringify(r.text.slice(-200))}${r.closed ? ' [closed]' : ' [timeout]'}`);
      const pid = /x-pid: (\d+)/i.exec(r.text);
      if (pid) pids.add(pid[1]!);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { failures, pids };
}

describe('handoff loses no byte', () => {
  // On corral's handoff lane (the default), and on Node's IPC channel (CORRAL_HANDOFF_LANE=0, as a Node without the lane's internals runs).
  for (const [sticky, lane] of [['sid', true], ['ip', true], ['sid', false]] as const) {
    test(`${CONNECTIONS} connections (pipelined, split lines, bodies, upgrades), ${CONCURRENCY} at a time, all answered whole (--sticky ${sticky}${lane ? '' : ', IPC channel'})`, async (t) => {
      const corral = await startCorral(t, fixture('plain-http.js'), { sticky, env: lane ? {} : { CORRAL_HANDOFF_LANE: '0' } });
      const { failures, pids } = await hammer(corral.port);
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${CONNECTIONS} connections lost data`);
      assert.equal(pids.size, 2);
      assert.deepEqual(statusOf(corral).workers.map((w) => w.lane), [lane, lane], 'where the handoffs travelled');
    });
  }
});

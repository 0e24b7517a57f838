import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { exchange } from './helpers/engine';
import { fixture, startCorral } from './helpers/corral';

describe('plain HTTP apps, unchanged', () => {
  test('a node:http app serves 400 keep-alive requests through corral, and its listen callback sees the public port', async (t) => {
    const corral = await startCorral(t, fixture('plain-http.js'));
    await corral.waitForOutput(new RegExp(`plain-http listening on ${corral.port}`));
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    t.after(() => agent.destroy());
    const pids = new Set<string>();
    const sockets = new Set<unknown>();
    for (let i = 0; i < 100; i++) {
      const answers = await Promise.all([0, 1, 2, 3].map((k) => exchange(`${corral.url}/item/${i}-${k}`, { agent })));
      answers.forEach((r, k) => {
        assert.equal(r.status, 200);
        assert.ok(r.body.startsWith(`/item/${i}-${k} `), r.body);
        pids.add(String(r.headers['x-pid']));
        sockets.add(r.socket);
      });
    }
    assert.ok(sockets.size <= 4, `keep-alive connections were not reused: ${sockets.size}`);
    assert.equal(pids.size, 2, 'four connections should spread over both workers');
  });

  test('request bodies of every size arrive whole', async (t) => {
    const corral = await startCorral(t, fixture('plain-http.js'));
    for (const size of [0, 1, 1000, 65_536, 1_000_000]) {
      const body = Buffer.alloc(size, 'x').toString();
      const r = await exchange(`${corral.url}/echo`, { method: 'POST', body, agent: false });
      assert.equal(r.status, 200);
      assert.equal(r.body.length, size);
    }
  });

  test('an Express app runs unchanged', async (t) => {
    const corral = await startCorral(t, fixture('express-app.js'));
    const sum = await exchange(`${corral.url}/sum`, { method: 'POST', body: JSON.stringify({ numbers: [1, 2, 39] }), headers: { 'content-type': 'application/json' }, agent: false });
    assert.equal(sum.status, 200);
    assert.equal((JSON.parse(sum.body) as { sum: number }).sum, 42);
    const pids = new Set<number>();
    for (let i = 0; i < 10; i++) pids.add((JSON.parse((await exchange(`${corral.url}/whoami`, { agent: false })).body) as { pid: number }).pid);
    assert.equal(pids.size, 2);
  });
});

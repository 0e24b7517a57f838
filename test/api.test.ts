import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { Server } from 'socket.io';
import { attach, CorralError, isWorker, start, workerSlot } from 'corral';
import { exchange } from './helpers/engine';
import { fixture, ROOT } from './helpers/corral';

describe('the package API', () => {
  test('corral loads with require() and with import, with the same exports', () => {
    const script = `
      const cjs = require('corral');
      import('corral').then((esm) => {
        const names = ['attach', 'start', 'CorralError', 'isWorker', 'workerSlot'];
        console.log(JSON.stringify(names.map((n) => [typeof cjs[n], typeof esm[n]])));
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as [string, string][];
    for (const [cjs, esm] of out) {
      assert.equal(cjs, 'function');
      assert.equal(esm, 'function');
    }
  });

  test('outside corral, attach(io) changes nothing and the app runs on one process', async (t) => {
    const server = createServer();
    const io = new Server(server);
    const adapterBefore = io.of('/').adapter;
    assert.equal(attach(io), io);
    assert.equal(isWorker(), false);
    assert.equal(workerSlot(), undefined);
    assert.equal(io.of('/').adapter, adapterBefore);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => io.close());
    const { port } = server.address() as { port: number };
    const hs = await exchange(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`, { agent: false });
    const { sid } = JSON.parse(hs.body.slice(1)) as { sid: string };
    assert.doesNotMatch(sid, /^[0-9a-z]+\./, 'Engine.IO keeps its own id format');
  });

  test('start() runs a cluster from code and stop() drains it', async () => {
    const cluster = await start({ app: fixture('echo-io.js'), workers: 2, port: 0, host: '127.0.0.1' });
    try {
      assert.equal(cluster.config.workers, 2);
      assert.equal(cluster.config.sticky, 'sid');
      const url = `http://127.0.0.1:${cluster.address.port}/health`;
      let answered = false;
      for (let i = 0; i < 200 && !answered; i++) {
        const r = await exchange(url, { agent: false }).catch(() => undefined);
        answered = r?.status === 200;
        if (!answered) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(answered, 'the cluster should answer');
    } finally {
      assert.equal(await cluster.stop(), 0);
      assert.equal(await cluster.stop(), 0, 'stop() twice is safe');
    }
  });

  test('start() tells its caller when corral gives up: closed carries ERR_CORRAL_WORKER_CRASH_LOOP, and controlPath is known with port 0', async () => {
    const cluster = await start({ app: fixture('crash-app.js'), workers: 1, port: 0, host: '127.0.0.1', maxRestarts: 1, minUptime: 10_000 });
    assert.match(cluster.controlPath, new RegExp(`127\\.0\\.0\\.1-${cluster.address.port}\\.sock$`));
    const { code, error } = await cluster.closed;
    assert.equal(code, 1);
    assert.ok(error instanceof CorralError);
    assert.equal(error.code, 'ERR_CORRAL_WORKER_CRASH_LOOP');
    assert.match(error.message, /cannot read config\.yml/);
    assert.equal(await cluster.stop(), 1, 'stop() after corral gave up answers at once');
  });

  test('start() with bad options rejects with a CorralError naming the option', async () => {
    await assert.rejects(start({ app: fixture('echo-io.js'), workers: -1 }), (err: unknown) => {
      assert.ok(err instanceof CorralError);
      assert.equal(err.code, 'ERR_CORRAL_BAD_OPTION');
      assert.match(err.message, /--workers/);
      return true;
    });
  });
});

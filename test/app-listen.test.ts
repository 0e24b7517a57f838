import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, startCorral, waitFor } from './helpers/corral';
import { freePort } from './helpers/ports';
import { exchange } from './helpers/engine';

const APP = fixture('host-app.js');

describe("the app's own listen() arguments", () => {
  test('an app that listens on 127.0.0.1 is served there only, never on every interface, and server.address() says so', async (t) => {
    const corral = await startCorral(t, APP, { host: null, env: { LISTEN_HOST: '127.0.0.1' } });
    await corral.waitForOutput(/the app listens on 127\.0\.0\.1:\d+: corral serves that address only/);
    const answer = await exchange(`http://127.0.0.1:${corral.port}/`, { agent: false });
    assert.deepEqual(JSON.parse(answer.body), { address: '127.0.0.1', family: 'IPv4', port: corral.port });
    // Another loopback address reaches a socket bound to every interface, not one bound to 127.0.0.1.
    await assert.rejects(exchange(`http://127.0.0.2:${corral.port}/`, { agent: false, timeoutMs: 3000 }), /ECONNREFUSED/);
  });

  test('an app whose host conflicts with --host: corral refuses, says what to do, exits 1', async (t) => {
    const corral = await startCorral(t, APP, { host: '127.0.0.2', env: { LISTEN_HOST: '127.0.0.1' }, waitReady: 0 });
    await waitFor(() => corral.proc.exitCode !== null, 20_000, 'corral to give up');
    assert.equal(corral.proc.exitCode, 1);
    assert.match(corral.output(), /the app listens on 127\.0\.0\.1:\d+, but corral was told --host 127\.0\.0\.2[^]*--host 127\.0\.0\.1[^]*ERR_CORRAL_LISTEN_CONFLICT/);
  });

  test('an app that listens on the host corral binds, or on every interface, is served as before', async (t) => {
    const same = await startCorral(t, APP, { env: { LISTEN_HOST: '127.0.0.1' } });
    assert.equal(JSON.parse((await exchange(`${same.url}/`, { agent: false })).body).address, '127.0.0.1');
    assert.doesNotMatch(same.output(), /serves that address only/);
    const wide = await startCorral(t, APP, { env: { LISTEN_HOST: '0.0.0.0' } });
    assert.equal((await exchange(`${wide.url}/`, { agent: false })).status, 200);
  });
});

describe('hints for common mistakes', () => {
  test('an app that listens on another port is told at once which port corral serves, once for all workers', async (t) => {
    const other = await freePort();
    const corral = await startCorral(t, APP, { env: { LISTEN_PORT: String(other) }, waitReady: 0 });
    await corral.waitForOutput(new RegExp(`the app listened on port ${other}, but corral serves port ${corral.port}[^\\n]*process\\.env\\.PORT`), 10_000);
    assert.equal(corral.output().match(/the app listened on port/g)?.length, 1);
  });

  test('a Socket.IO app without attach(io): the first request with a session id corral did not issue gets one warning that says what to add', async (t) => {
    const corral = await startCorral(t, fixture('no-attach-io.js'));
    for (let i = 0; i < 3; i++) {
      const handshake = await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling`, { agent: false });
      const sid = (JSON.parse(handshake.body.slice(1)) as { sid: string }).sid;
      await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { agent: false, timeoutMs: 30_000 }).catch(() => undefined);
    }
    await corral.waitForOutput(/no worker's app called attach\(io\)[^\n]*require\('corral'\)\.attach\(io\)/);
    assert.equal(corral.output().match(/called attach\(io\)/g)?.length, 1);
  });

  test('an app with attach(io) never gets that warning', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const handshake = await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling`, { agent: false });
    const sid = (JSON.parse(handshake.body.slice(1)) as { sid: string }).sid;
    await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { agent: false, method: 'POST', body: '40' });
    await exchange(`${corral.url}/socket.io/?EIO=4&transport=polling&sid=forged-id`, { agent: false });
    assert.doesNotMatch(corral.output(), /attach\(io\)/);
  });
});

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, test } from 'node:test';
import { fixture, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

const APP = fixture('slow-app.js');

/** The exit code, once the process has exited by itself (within 15 s). */
async function exitOf(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode === null && proc.signalCode === null) await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, 15_000, 'corral to exit');
  return proc.exitCode;
}

/** A signal to corral's whole process group, as a terminal sends Ctrl-C (SIGINT) or its closing (SIGHUP). */
function toGroup(pid: number, signal: NodeJS.Signals): void {
  process.kill(-pid, signal);
}

describe('terminal signals reach the whole process group', () => {
  test('Ctrl-C (SIGINT to the group) with a 2 s request in flight: the request completes, the drain report is true, exit 0', async (t) => {
    const corral = await startCorral(t, APP, { ownGroup: true });
    const slow = exchange(`${corral.url}/?ms=2000`, { agent: false, timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    toGroup(corral.proc.pid!, 'SIGINT');
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.match(answer.body, /^done after 2000 ms/);
    assert.equal(await exitOf(corral.proc), 0, corral.output());
    assert.match(corral.output(), /stopped: every worker drained/);
    assert.doesNotMatch(corral.output(), /did not drain/);
  });

  test("an app's own SIGINT handler runs once its worker is drained, not at the Ctrl-C", async (t) => {
    const corral = await startCorral(t, APP, { ownGroup: true, env: { APP_STOP_HANDLER: '1' } });
    const slow = exchange(`${corral.url}/?ms=1500`, { agent: false, timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    toGroup(corral.proc.pid!, 'SIGINT');
    const answer = await slow;
    assert.match(answer.body, /^done after 1500 ms/);
    assert.equal(await exitOf(corral.proc), 0, corral.output());
    assert.equal(corral.output().match(/app cleanup ran/g)?.length, 2, 'in both workers');
    assert.ok(corral.output().indexOf('app cleanup ran') > corral.output().indexOf('SIGINT: draining'), 'after the drain began');
  });

  test('closing the terminal (SIGHUP to the group) is a rolling reload: workers replaced, in-flight requests complete', async (t) => {
    const corral = await startCorral(t, APP, { ownGroup: true });
    const before = new Set([(await exchange(`${corral.url}/`, { agent: false })).body.split(' by ')[1], (await exchange(`${corral.url}/`, { agent: false })).body.split(' by ')[1]]);
    const slow = exchange(`${corral.url}/?ms=1000`, { agent: false, timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    toGroup(corral.proc.pid!, 'SIGHUP');
    assert.match((await slow).body, /^done after 1000 ms/);
    await waitFor(async () => {
      const pid = (await exchange(`${corral.url}/`, { agent: false })).body.split(' by ')[1];
      return pid !== undefined && !before.has(pid);
    }, 20_000, 'a worker of the reload to answer');
    assert.equal(corral.proc.exitCode, null, 'still running');
    assert.equal(await corral.stop(), 0, corral.output());
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';

describe('worker faults', () => {
  test('kill -9 of one of two workers during bursts of 500 new connections: no 503 while the other is ready', async (t) => {
    const corral = await startCorral(t, fixture('echo-io.js'));
    const CONCURRENCY = 100;
    for (let round = 0; round < 6; round++) {
      const pids = new Set<number>();
      await waitFor(async () => {
        for (let i = 0; i < 10; i++) pids.add((JSON.parse((await exchange(`${corral.url}/health`, { agent: false })).body) as { pid: number }).pid);
        return pids.size === 2;
      }, 15_000, 'two live workers');
      const victim = [...pids][round % 2]!;
      let next = 0;
      let done = 0;
      let killed = false;
      const statuses = new Map<number, number>();
      const errors: string[] = [];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < 500) {
            next++;
            try {
              const r = await exchange(`${corral.url}/health`, { agent: false, timeoutMs: 10_000 });
              statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            } catch (err) {
              errors.push((err as Error).message);
            }
            if (++done === 100 && !killed) {
              killed = true;
              process.kill(victim, 'SIGKILL');
            }
          }
        }),
      );
      assert.ok(killed);
      assert.equal(statuses.get(503) ?? 0, 0, `round ${round}: ${statuses.get(503)} clients got 503 while a worker was ready`);
      // Only requests the dead worker had already taken may fail, at most one per client lane.
      assert.ok(errors.length <= CONCURRENCY, `round ${round}: ${errors.length} failed: ${errors.slice(0, 3).join('; ')}`);
      assert.ok((statuses.get(200) ?? 0) >= 500 - CONCURRENCY);
    }
  });
});

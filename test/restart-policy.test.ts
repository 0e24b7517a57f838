import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RestartPolicy } from '../src/supervisor/restart-policy';

const limits = { minUptime: 1000, maxRestarts: 3, restartWindow: 10_000 };

describe('restart policy', () => {
  test('quick failures back off exponentially from 100 ms, up to the cap', () => {
    const p = new RestartPolicy({ ...limits, maxRestarts: 100 });
    const delays = Array.from({ length: 8 }, (_, i) => {
      const d = p.failed(i * 10, i * 10 - 5);
      assert.equal(d.halt, false);
      return d.halt ? -1 : d.delayMs;
    });
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    assert.equal(p.restarts, 8);
  });

  test('a worker that stayed up --min-uptime resets the backoff', () => {
    const p = new RestartPolicy(limits);
    p.failed(0, -5);
    p.failed(100, 95);
    const d = p.failed(5000, 3000);
    assert.deepEqual(d, { halt: false, delayMs: 100, failures: 3 });
  });

  test('more than --max-restarts failures within --restart-window halt the slot', () => {
    const p = new RestartPolicy(limits);
    for (let i = 0; i < 3; i++) assert.equal(p.failed(i, i - 1).halt, false);
    assert.deepEqual(p.failed(3, 2), { halt: true, failures: 4 });
  });

  test('failures older than the window are forgotten, and clear() starts afresh', () => {
    const p = new RestartPolicy(limits);
    for (let i = 0; i < 3; i++) p.failed(i, i - 1);
    assert.equal(p.failed(20_000, 19_999).halt, false, 'the first three left the window');
    for (let i = 0; i < 2; i++) p.failed(20_001 + i, 20_000 + i);
    p.clear();
    assert.equal(p.failed(20_010, 20_009).halt, false);
  });
});

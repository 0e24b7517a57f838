import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { CLI, fixture, ROOT, startCorral, waitFor } from './helpers/corral';
import { exchange } from './helpers/engine';
import { resolveConfig } from '../src/options';

/** The lifecycle events the README lists, each of which a start, a reload and a stop emit. */
const EVENTS = ['primary.listening', 'worker.started', 'worker.ready', 'reload.start', 'reload.done', 'worker.exited', 'signal.drain', 'stopped'];

describe('--log-format json', () => {
  test('every line corral writes is a JSON object with time, level and event; the app\'s lines carry their slot; a reload and a stop emit their events', async (t) => {
    const corral = await startCorral(t, fixture('env-app.js'), { args: ['--log-format', 'json'] });
    await exchange(`${corral.url}/log`, { agent: false });
    // In JSON the message ends at a quote.
    const path = /control socket ([^\s"]+)/.exec(corral.output())![1]!;
    await new Promise<void>((resolve, reject) => execFile(process.execPath, [CLI, 'reload', '--control', path], { cwd: ROOT, timeout: 60_000 }, (err) => (err ? reject(err) : resolve())));
    assert.equal(await corral.stop(), 0);
    await waitFor(() => /"event":"stopped"/.test(corral.output()), 5000, 'the last line');
    const lines = corral.output().split('\n').filter((l) => l !== '');
    const records = lines.map((line) => {
      const record = JSON.parse(line) as { time: string; level: string; event: string; msg: string; slot?: number };
      assert.match(record.time, /^\d{4}-\d\d-\d\dT/, line);
      assert.ok(['info', 'warn', 'error'].includes(record.level), line);
      assert.equal(typeof record.event, 'string', line);
      return record;
    });
    const events = new Set(records.map((r) => r.event));
    for (const event of EVENTS) assert.ok(events.has(event), `${event} in ${[...events].join(', ')}`);
    const app = records.find((r) => r.event === 'app.output' && /hello from the app/.test(r.msg));
    assert.ok(app !== undefined && (app.slot === 0 || app.slot === 1), 'the app line, with its slot');
    const ready = records.filter((r) => r.event === 'worker.ready');
    assert.ok(ready.every((r) => typeof r.slot === 'number' && typeof (r as { pid?: unknown }).pid === 'number'));
  });

  test('a bad --log-format is named', () => {
    assert.throws(() => resolveConfig({ app: fixture('env-app.js'), logFormat: 'xml' }), /--log-format \(logFormat\): expected one of "text", "json", got "xml"/);
  });
});

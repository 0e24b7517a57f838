import type { Command } from 'commander';
import { closeSync, openSync, readSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { control } from '../control/client';
import { CorralError } from '../errors';
import { nameOf } from '../options';
import { isRunning, relaunch, tail } from './daemon';
import { runningCorrals } from './fleet';
import { dumpFile, ensureStateDirs, logFileOf, readRecord, readRecords, removeRecord, type AppRecord } from './state';
import { duration, table } from './status-table';

const CLI = join(__dirname, 'main.js');

/** PM2's daily commands: list, logs, restart, delete, save, resurrect. */
export function registerPmCommands(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('every corral of yours on this machine: name, port, workers ready/total, uptime, restarts, memory')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const rows = await listRows();
      if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(`${rows.length === 0 ? 'no corral runs here; start one with `corral start app.js -d`' : listTable(rows)}\n`);
    });

  program
    .command('logs')
    .description("a daemon's log (the app's lines and corral's, with time and slot); every daemon's without NAME")
    .argument('[name]', 'the cluster (--name)')
    .option('-f, --follow', 'keep printing new lines')
    .option('--lines <n>', 'lines to print first (default: 50)', '50')
    .action(async (name: string | undefined, flags: { follow?: boolean; lines: string }) => {
      const lines = Number(flags.lines);
      if (!Number.isInteger(lines) || lines < 0) throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --lines: expected a whole number, got ${JSON.stringify(flags.lines)}.`);
      const files = name === undefined ? readRecords().map((r) => ({ name: r.name, path: r.logFile })) : [{ name: nameOf(name), path: readRecord(name)?.logFile ?? logFileOf(name) }];
      if (files.length === 0) throw new CorralError('ERR_CORRAL_NOT_RUNNING', 'no corral was started with -d here, so there is no log file; a foreground corral logs to its terminal.');
      const prefix = files.length > 1;
      for (const f of files) {
        let text = tail(f.path, lines);
        if (text === '' && name !== undefined && readRecord(name) === undefined) throw new CorralError('ERR_CORRAL_NOT_RUNNING', `no log for ${name}: it was not started with -d (a foreground corral logs to its terminal); \`corral list\` shows what runs.`);
        if (prefix) text = text.split('\n').filter((l) => l !== '').map((l) => `${f.name} | ${l}`).join('\n');
        if (text !== '') process.stdout.write(`${text}\n`);
      }
      if (flags.follow) follow(files, prefix);
    });

  program
    .command('restart')
    .description('stop a daemon and start it again with the same options, directory and environment')
    .argument('<name>', 'the cluster (--name)')
    .action(async (name: string) => {
      const record = recordOrFail(name);
      if (await isRunning(record.name)) await stopWaiting(record);
      const { code, output } = await relaunch(record, CLI);
      if (output !== '') (code === 0 ? process.stdout : process.stderr).write(`${output}\n`);
      process.exit(code);
    });

  program
    .command('delete')
    .alias('del')
    .description('stop a daemon if it runs and forget it (its log files stay)')
    .argument('<name>', 'the cluster (--name)')
    .action(async (name: string) => {
      const record = recordOrFail(name);
      if (await isRunning(record.name)) await stopWaiting(record);
      removeRecord(record.name);
      process.stdout.write(`deleted ${record.name}\n`);
    });

  program
    .command('save')
    .description('remember the daemons running now, for `corral resurrect` (and `corral startup`)')
    .action(async () => {
      const running: AppRecord[] = [];
      for (const record of readRecords()) if (await isRunning(record.name)) running.push(record);
      ensureStateDirs();
      writeFileSync(dumpFile(), `${JSON.stringify(running.map((r) => r.name), null, 2)}\n`, { mode: 0o600 });
      process.stdout.write(`saved ${running.length} ${running.length === 1 ? 'cluster' : 'clusters'} (${running.map((r) => r.name).join(', ') || 'none'}) to ${dumpFile()}\n`);
    });

  program
    .command('resurrect')
    .description('start the daemons `corral save` remembered (those not running), as they were started')
    .action(async () => {
      let names: string[];
      try {
        names = JSON.parse(readFileSync(dumpFile(), 'utf8')) as string[];
      } catch {
        throw new CorralError('ERR_CORRAL_NOT_RUNNING', `nothing to resurrect: ${dumpFile()} is missing; run \`corral save\` while your daemons run.`);
      }
      let failed = 0;
      for (const name of names) {
        const record = readRecord(name);
        if (record === undefined) {
          process.stderr.write(`corral: ${name} was saved but since deleted; skipped.\n`);
          continue;
        }
        if (await isRunning(name)) {
          process.stdout.write(`${name}: running already\n`);
          continue;
        }
        const { code, output } = await relaunch(record, CLI);
        if (code !== 0) failed++;
        (code === 0 ? process.stdout : process.stderr).write(`${output}\n`);
      }
      process.exit(failed > 0 ? 1 : 0);
    });
}

function recordOrFail(name: string): AppRecord {
  const record = readRecord(nameOf(name));
  if (record === undefined) throw new CorralError('ERR_CORRAL_NOT_RUNNING', `no daemon is called ${name}: \`corral list\` shows them; only clusters started with -d can be restarted or deleted by name.`);
  return record;
}

async function stopWaiting(record: AppRecord): Promise<void> {
  const response = await control(record.controlPath, { cmd: 'stop', wait: true }, 0);
  if (!response.ok) process.stderr.write(`corral: ${record.name}: ${response.error}\n`);
}

interface ListRow {
  name: string;
  mode: 'daemon' | 'foreground';
  status: 'online' | 'stopped';
  pid: number | null;
  port: number | null;
  ready: number;
  workers: number;
  uptimeMs: number;
  restarts: number;
  rssBytes: number;
}

async function listRows(): Promise<ListRow[]> {
  const running = await runningCorrals();
  const records = readRecords();
  const rows: ListRow[] = running.map((c) => ({
    name: c.primary.name,
    mode: records.some((r) => r.controlPath === c.controlPath) ? 'daemon' : 'foreground',
    status: 'online',
    pid: c.primary.pid,
    port: c.primary.port,
    ready: c.workers.filter((w) => w.state === 'ready').length,
    workers: c.primary.workers,
    uptimeMs: c.primary.uptimeMs,
    restarts: c.workers.reduce((n, w) => n + w.restarts, 0),
    rssBytes: c.workers.reduce((n, w) => n + w.rssBytes, 0),
  }));
  for (const r of records) {
    if (running.some((c) => c.controlPath === r.controlPath)) continue;
    rows.push({ name: r.name, mode: 'daemon', status: 'stopped', pid: null, port: null, ready: 0, workers: 0, uptimeMs: 0, restarts: 0, rssBytes: 0 });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

function listTable(rows: readonly ListRow[]): string {
  return table([
    ['name', 'mode', 'status', 'pid', 'port', 'workers', 'uptime', 'restarts', 'memory'],
    ...rows.map((r) => [
      r.name,
      r.mode,
      r.status,
      r.pid === null ? '-' : String(r.pid),
      r.port === null ? '-' : String(r.port),
      r.status === 'online' ? `${r.ready}/${r.workers}` : '-',
      r.status === 'online' ? duration(r.uptimeMs) : '-',
      String(r.restarts),
      r.rssBytes > 0 ? `${(r.rssBytes / 1024 / 1024).toFixed(1)} MB` : '-',
    ]),
  ]);
}

/** `logs -f`: print what is appended, following a rotation (the file shrinks: start it over). */
function follow(files: readonly { name: string; path: string }[], prefix: boolean): void {
  const offsets = new Map(files.map((f) => [f.path, sizeOf(f.path)]));
  const partial = new Map<string, string>();
  setInterval(() => {
    for (const f of files) {
      const size = sizeOf(f.path);
      let at = offsets.get(f.path) ?? 0;
      if (size < at) at = 0;
      if (size === at) continue;
      const fd = openSync(f.path, 'r');
      const buffer = Buffer.alloc(Math.min(size - at, 1 << 20));
      const n = readSync(fd, buffer, 0, buffer.length, at);
      closeSync(fd);
      offsets.set(f.path, at + n);
      const text = (partial.get(f.path) ?? '') + buffer.subarray(0, n).toString();
      const end = text.lastIndexOf('\n');
      partial.set(f.path, text.slice(end + 1));
      if (end < 0) continue;
      const lines = text.slice(0, end);
      process.stdout.write(`${prefix ? lines.split('\n').map((l) => `${f.name} | ${l}`).join('\n') : lines}\n`);
    }
  }, 200);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

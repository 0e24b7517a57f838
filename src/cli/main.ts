#!/usr/bin/env node
import { Command } from 'commander';
import { control } from '../control/client';
import { CorralError } from '../errors';
import { log } from '../log';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { controlName, defaultControlPath, runtimeBase } from '../control/paths';
import { nameOf, targetPortOf } from '../options';
import { registerStart } from './start-command';
import { controlPathOfName } from './fleet';
import { registerPmCommands } from './pm-commands';
import { registerLbConfig } from './lb-config';
import { registerStartup } from './startup';
import { statusTable } from './status-table';
import type { PrimaryStatus, WorkerStatus } from '../control/protocol';

const program = new Command('corral')
  .description('Run a Node.js realtime server on every core, with sticky sessions.')
  .version(version(), '-v, --version')
  .showHelpAfterError('(corral --help lists the commands)');

registerStart(program);

/** Options shared by the commands that talk to a running corral: a name, or where it listens. */
function target(cmd: Command): Command {
  return cmd
    .option('-p, --port <port>', 'the port corral serves (default: $PORT or 3000)')
    .option('-H, --host <address>', 'the address it is bound to, when several corrals share the port')
    .option('--control <path>', 'control socket path (overrides --port and --host)');
}

interface TargetFlags {
  port?: string;
  host?: string;
  control?: string;
}

async function controlPath(flags: TargetFlags, name: string | undefined): Promise<string> {
  if (flags.control !== undefined) return flags.control;
  if (name !== undefined && flags.port === undefined) return controlPathOfName(nameOf(name));
  const port = targetPortOf(flags.port);
  if (flags.host !== undefined) return defaultControlPath(port, flags.host);
  // No --host: the corral bound to every interface, else the only one on that port.
  const all = defaultControlPath(port, undefined);
  const suffix = `-${controlName(port, undefined)}.sock`;
  let names: string[];
  try {
    names = readdirSync(runtimeBase());
  } catch {
    return all;
  }
  if (names.includes(basename(all))) return all;
  const bound = names.filter((n) => n.endsWith(suffix));
  if (bound.length === 0) return all;
  if (bound.length === 1) return join(runtimeBase(), bound[0]!);
  const hosts = bound.map((n) => n.slice(0, -suffix.length)).join(', ');
  throw new CorralError('ERR_CORRAL_BAD_OPTION', `several corrals serve port ${port} (on ${hosts}): pick one with --host ADDRESS.`);
}

async function ask(flags: TargetFlags, name: string | undefined, request: Parameters<typeof control>[1], timeoutMs?: number): Promise<void> {
  const response = await control(await controlPath(flags, name), request, timeoutMs);
  if (!response.ok) {
    process.stderr.write(`corral: ${response.error}\n`);
    process.exit(1);
  }
  if ('message' in response) process.stdout.write(`${response.message}\n`);
}

const NAME = ['[name]', 'the cluster (--name); or address it with -p/-H/--control'] as const;

target(
  program
    .command('status')
    .description('show the workers of a running corral')
    .argument(...NAME)
    .option('--json', 'machine-readable output')
    .option('--watch', 'redraw every second (Ctrl-C to quit), with handoffs/s'),
).action(async (name: string | undefined, flags: TargetFlags & { json?: boolean; watch?: boolean }) => {
  const path = await controlPath(flags, name);
  const read = async (): Promise<{ primary: PrimaryStatus; workers: WorkerStatus[] }> => {
    const response = await control(path, { cmd: 'status' });
    if (!response.ok) throw new CorralError('ERR_CORRAL_CONTROL_FAILED', response.error);
    if (!('workers' in response)) throw new CorralError('ERR_CORRAL_CONTROL_FAILED', 'unexpected answer to status');
    return response;
  };
  if (!flags.watch) {
    const { primary, workers } = await read();
    process.stdout.write(flags.json ? `${JSON.stringify({ primary, workers }, null, 2)}\n` : `${statusTable(primary, workers)}\n`);
    return;
  }
  // Like `pm2 monit`, in one table: redrawn in place every second.
  let last: { at: number; handoffs: number } | undefined;
  for (;;) {
    const { primary, workers } = await read();
    const now = Date.now();
    const rate = last === undefined ? undefined : Math.round(((primary.handoffs - last.handoffs) * 1000) / Math.max(1, now - last.at));
    last = { at: now, handoffs: primary.handoffs };
    process.stdout.write(`${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${statusTable(primary, workers, rate)}\n`);
    await new Promise((r) => setTimeout(r, 1000));
  }
});
target(program.command('reload').description('replace every worker, one slot at a time, without dropping a request').argument(...NAME)).action((name: string | undefined, flags: TargetFlags) => ask(flags, name, { cmd: 'reload' }));
target(program.command('stop').description('drain and stop a running corral; exits with its outcome (0: every worker drained)').argument(...NAME).option('--no-wait', 'return once the stop has begun')).action((name: string | undefined, flags: TargetFlags & { wait: boolean }) =>
  ask(flags, name, { cmd: 'stop', wait: flags.wait }, flags.wait ? 0 : undefined),
);
target(
  program
    .command('scale')
    .description('change the number of workers of a running corral: scale [name] <workers>')
    .argument('<name-or-workers>', 'the cluster (--name), then the number; or just the number (with -p/-H/--control)')
    .argument('[workers]', 'the new number of workers, or "auto" (one per core)'),
).action((first: string, second: string | undefined, flags: TargetFlags) => {
  const [name, workers] = second === undefined ? [undefined, first] : [first, second];
  return ask(flags, name, { cmd: 'scale', workers: /^\d+$/.test(workers) ? Number(workers) : workers });
});

registerPmCommands(program);
registerLbConfig(program);
registerStartup(program);

function version(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CorralError) {
    process.stderr.write(`corral: ${err.message} [${err.code}]\n`);
    process.exit(err.code === 'ERR_CORRAL_BAD_OPTION' || err.code === 'ERR_CORRAL_APP_NOT_FOUND' ? 2 : 1);
  }
  throw err;
});

#!/usr/bin/env node
import { Command } from 'commander';
import { control } from '../control/client';
import { CorralError } from '../errors';
import { log } from '../log';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { controlName, defaultControlPath, runtimeBase } from '../control/paths';
import { resolveConfig, targetPortOf, type CorralOptions } from '../options';
import { Primary } from '../primary/primary';
import { loadConfigFile } from './config-file';
import { registerLbConfig } from './lb-config';
import { statusTable } from './status-table';

const program = new Command('corral')
  .description('Run a Node.js realtime server on every core, with sticky sessions.')
  .version(version(), '-v, --version')
  .showHelpAfterError('(corral --help lists the commands)');

/** CLI flag -> option name, for flags that map one to one. */
const FLAGS: [flag: string, option: keyof CorralOptions, help: string][] = [
  ['-w, --workers <n>', 'workers', 'worker processes, or "auto" for one per core (default: auto)'],
  ['-p, --port <port>', 'port', 'public port (default: $PORT or 3000; 0 = any free port)'],
  ['-H, --host <address>', 'host', 'address to bind (default: every interface)'],
  ['-s, --sticky <strategy>', 'sticky', 'routing: sid (Engine.IO session), ip (client address), cookie (a cookie corral sets), query:NAME or header:NAME (a key), or none (default: sid)'],
  ['--trust-proxy <cidrs>', 'trustProxy', 'proxies trusted for PROXY headers and X-Forwarded-For: addresses or CIDRs, comma-separated; loopback, private (default: none)'],
  ['--max-head-bytes <n>', 'maxHeadBytes', 'most bytes read of a request line (or whole head, for cookie and header:) (default: 8192)'],
  ['--head-timeout <ms>', 'headTimeout', 'time a new connection has to send what the primary reads (default: 10000)'],
  ['--kill-timeout <ms>', 'killTimeout', 'time a draining worker gets before it is killed (default: 5000)'],
  ['--ready-timeout <ms>', 'readyTimeout', 'time a new worker gets to become ready (default: 30000)'],
  ['--min-uptime <ms>', 'minUptime', 'uptime after which a crash no longer counts toward backoff (default: 1000)'],
  ['--max-restarts <n>', 'maxRestarts', 'crashes of one slot within --restart-window that halt it (default: 10)'],
  ['--restart-window <ms>', 'restartWindow', 'window for --max-restarts (default: 60000)'],
  ['--max-memory <size>', 'maxMemory', 'restart a worker gracefully past this RSS, e.g. 512M (default: none)'],
  ['--control <path>', 'control', 'control socket path (default: $XDG_RUNTIME_DIR/corral/[<host>-]<port>.sock)'],
  ['--host-id <id>', 'hostId', 'this host\'s id, written in every session id for a front balancer (default: from the hostname)'],
  ['--adapter <kind>', 'adapter', 'Socket.IO messaging between workers and hosts: cluster (IPC, no service), redis or redis-streams (default: cluster)'],
  ['--redis <url>', 'redis', 'Redis URL for the Redis adapters; alone, selects redis-streams'],
  ['--unresponsive-timeout <ms>', 'unresponsiveTimeout', 'kill and replace a worker that missed its heartbeat this long; 0 = never (default: 30000)'],
  ['--slot-ports <base>', 'slotPorts', 'also serve slot i on port BASE+i, straight to that worker (for a front balancer)'],
];

const start = program
  .command('start')
  .description('start APP clustered: one primary owns the port, one worker per slot runs the app')
  .argument('[app]', "your server's entry script (CommonJS or ESM); may come from the config file")
  .argument('[args...]', 'arguments for the app, after --: corral start app.js -w 2 -- --app-flag')
  .option('-c, --config <file>', 'config file (default: ./corral.config.{js,cjs,json} if present)')
  .option('--wait-ready', 'a worker is ready when the app calls ready(), not when it listens')
  .option('--proxy-protocol', 'every connection (from --trust-proxy, when given) starts with a PROXY protocol v1/v2 header');
for (const [flag, , help] of FLAGS) start.option(flag, help);
start.action(async (app: string | undefined, args: string[], flags: Record<string, string | boolean | undefined>) => {
  const file = loadConfigFile(flags['config'] as string | undefined);
  const options: CorralOptions = { ...file?.options, app: app ?? file?.options.app ?? '' };
  for (const [, name] of FLAGS) if (flags[name] !== undefined) (options as unknown as Record<string, unknown>)[name] = flags[name];
  if (flags['waitReady'] === true) options.waitReady = true;
  if (flags['proxyProtocol'] === true) options.proxyProtocol = true;
  if (args.length > 0) options.appArgs = args;
  const config = resolveConfig(options);
  if (file !== undefined) log.info(`config file ${file.path}`);
  const primary = new Primary(config);
  primary.onStopped = (code) => {
    log.info(code === 0 ? 'stopped: every worker drained' : 'stopped: not cleanly (see above)');
    process.exit(code);
  };
  await primary.start();
  handleSignals(primary);
});

function handleSignals(primary: Primary): void {
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn(`${signal} again: killing every worker now.`);
      primary.kill();
      process.exit(1);
    }
    log.info(`${signal}: draining workers (up to ${primary.config.killTimeout} ms; ${signal} again to force)`);
    void primary.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => void primary.reload());
}

/** Options shared by the commands that talk to a running corral. */
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

function controlPath(flags: TargetFlags): string {
  if (flags.control !== undefined) return flags.control;
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
  const bound = names.filter((name) => name.endsWith(suffix));
  if (bound.length === 0) return all;
  if (bound.length === 1) return join(runtimeBase(), bound[0]!);
  const hosts = bound.map((name) => name.slice(0, -suffix.length)).join(', ');
  throw new CorralError('ERR_CORRAL_BAD_OPTION', `several corrals serve port ${port} (on ${hosts}): pick one with --host ADDRESS.`);
}

async function ask(flags: TargetFlags, request: Parameters<typeof control>[1], timeoutMs?: number): Promise<void> {
  const response = await control(controlPath(flags), request, timeoutMs);
  if (!response.ok) {
    process.stderr.write(`corral: ${response.error}\n`);
    process.exit(1);
  }
  if ('message' in response) process.stdout.write(`${response.message}\n`);
}

target(program.command('status').description('show the workers of a running corral').option('--json', 'machine-readable output')).action(async (flags: TargetFlags & { json?: boolean }) => {
  const response = await control(controlPath(flags), { cmd: 'status' });
  if (!response.ok) throw new CorralError('ERR_CORRAL_CONTROL_FAILED', response.error);
  if (!('workers' in response)) throw new CorralError('ERR_CORRAL_CONTROL_FAILED', 'unexpected answer to status');
  process.stdout.write(flags.json ? `${JSON.stringify({ primary: response.primary, workers: response.workers }, null, 2)}\n` : `${statusTable(response.primary, response.workers)}\n`);
});
target(program.command('reload').description('replace every worker, one slot at a time, without dropping a request')).action((flags) => ask(flags, { cmd: 'reload' }));
target(program.command('stop').description('drain and stop a running corral; exits with its outcome (0: every worker drained)').option('--no-wait', 'return once the stop has begun')).action((flags: TargetFlags & { wait: boolean }) =>
  ask(flags, { cmd: 'stop', wait: flags.wait }, flags.wait ? 0 : undefined),
);
target(program.command('scale').description('change the number of workers of a running corral').argument('<workers>', 'the new number of workers, or "auto" (one per core)')).action((workers: string, flags) => ask(flags, { cmd: 'scale', workers: /^\d+$/.test(workers) ? Number(workers) : workers }));

registerLbConfig(program);

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

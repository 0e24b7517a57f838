import { execFile } from 'node:child_process';
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { CorralError } from '../errors';
import { log } from '../log';
import { resolveConfig, type CorralOptions } from '../options';
import { setOutput, terminalSink } from '../output';
import { Primary } from '../primary/primary';
import { loadConfigFile, selectEnv } from './config-file';
import { reportReady, startDaemon, tell } from './daemon';
import { ecosystemApps, type EcosystemApp } from './ecosystem';
import { fileSink, RotatingFile } from './log-file';
import { watchForReload } from './watch';

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
  ['--recovery-memory <size>', 'recoveryMemory', "memory of Socket.IO connection-state recovery in the primary: packet log and sessions that left (default: 64M)"],
  ['--control <path>', 'control', 'control socket path (default: $XDG_RUNTIME_DIR/corral/[<host>-]<port>.sock)'],
  ['--host-id <id>', 'hostId', 'this host\'s id, written in every session id for a front balancer (default: from the hostname)'],
  ['--adapter <kind>', 'adapter', 'Socket.IO messaging between workers and hosts: cluster (IPC, no service), redis or redis-streams (default: cluster)'],
  ['--redis <url>', 'redis', 'Redis URL for the Redis adapters; alone, selects redis-streams'],
  ['--unresponsive-timeout <ms>', 'unresponsiveTimeout', 'kill and replace a worker that missed its heartbeat this long; 0 = never (default: 30000)'],
  ['--slot-ports <base>', 'slotPorts', 'also serve slot i on port BASE+i, straight to that worker (for a front balancer)'],
  ['-n, --name <name>', 'name', "what list, logs, stop, restart call it (default: the app's file name)"],
  ['--metrics <port>', 'metrics', 'serve /metrics (Prometheus, summed over workers), /healthz and /readyz on this port'],
  ['--metrics-host <address>', 'metricsHost', 'address of the metrics port (default: 127.0.0.1)'],
  ['--log-format <format>', 'logFormat', 'text (default) or json: one object per line with time, level, event and fields'],
  ['--node-args <args>', 'nodeArgs', 'Node.js options for the workers, e.g. "--import tsx --max-old-space-size=512"'],
];

/** This CLI's own entry script, for the daemon to run. */
const CLI = join(__dirname, 'main.js');

/** `corral start`: in the foreground, or detached with -d. */
export function registerStart(program: Command): void {
  const start = program
    .command('start')
    .description('start APP clustered: one primary owns the port, one worker per slot runs the app')
    .argument('[app]', "your server's entry script (CommonJS or ESM); may come from the config file")
    .argument('[args...]', 'arguments for the app, after --: corral start app.js -w 2 -- --app-flag')
    .option('-c, --config <file>', 'config file (default: ./corral.config.{js,cjs,json} if present)')
    .option('-d, --daemon', 'detach: run in the background, log to a file (corral logs NAME), return once ready')
    .option('--env <name>', "add the config file's env_<name> block to the app's environment (env is always added)")
    .option('--only <name>', 'with a config file of several apps (a PM2 apps array): start this one (without it, each starts detached)')
    .option('--watch [paths]', "rolling reload when a file changes (default: the app's directory; node_modules and dot-directories ignored)")
    .option('--wait-ready', 'a worker is ready when the app calls ready(), not when it listens')
    .option('--dashboard', 'a live dashboard on the --metrics port; reload and scale need the token it prints')
    .option('--proxy-protocol', 'every connection (from --trust-proxy, when given) starts with a PROXY protocol v1/v2 header')
    // The daemon's own: where its output goes.
    .addOption(new Option('--log-file <path>').hideHelp());
  for (const [flag, , help] of FLAGS) start.option(flag, help);
  start.action(async (app: string | undefined, args: string[], flags: Record<string, string | boolean | undefined>) => {
    const file = loadConfigFile(flags['config'] as string | undefined);
    const apps = file !== undefined && 'apps' in file.options ? ecosystemApps((file.options as { apps: unknown }).apps, file.path) : undefined;
    if (apps !== undefined && flags['only'] === undefined) {
      process.exit(await startEach(apps, process.argv.slice(3)));
    }
    let fileOptions = file?.options as (Partial<CorralOptions> & Record<string, unknown>) | undefined;
    if (apps !== undefined) {
      const chosen = apps.find((a) => a.name === flags['only']);
      if (chosen === undefined) throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --only: ${file!.path} has no app called ${String(flags['only'])} (it has: ${apps.map((a) => a.name).join(', ')}).`);
      fileOptions = chosen.options;
      for (const note of chosen.ignored) log.info('config.ignored', `config file: ${note}`);
    } else if (flags['only'] !== undefined) {
      throw new CorralError('ERR_CORRAL_BAD_OPTION', 'bad option --only: it picks one app of a config file with an apps array, and there is none.');
    }
    const fromFile = fileOptions === undefined ? {} : selectEnv(fileOptions, flags['env'] as string | undefined);
    if (file === undefined && flags['env'] !== undefined) {
      throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --env: there is no config file to take env_${String(flags['env'])} from; add corral.config.js (or pass --config FILE) with an env_${String(flags['env'])} block.`);
    }
    const options: CorralOptions = { ...fromFile, app: app ?? fromFile.app ?? '' };
    for (const [, name] of FLAGS) if (flags[name] !== undefined) (options as unknown as Record<string, unknown>)[name] = flags[name];
    if (flags['waitReady'] === true) options.waitReady = true;
    if (flags['proxyProtocol'] === true) options.proxyProtocol = true;
    if (flags['dashboard'] === true) options.dashboard = true;
    if (flags['watch'] !== undefined) options.watch = flags['watch'];
    if (args.length > 0) options.appArgs = args;
    const config = resolveConfig(options);
    const argv = process.argv.slice(3);
    if (flags['daemon'] === true) {
      const report = await startDaemon(config, CLI, argv);
      if (report.type === 'failed') {
        process.stderr.write(`corral: ${report.message}\n`);
        process.exit(1);
      }
      process.stdout.write(`corral: started ${config.name} in the background (pid ${report.pid}, ${report.url}, ${report.workers} ${report.workers === 1 ? 'worker' : 'workers'}). corral logs ${config.name} | corral list | corral stop ${config.name}\n`);
      return;
    }
    const logFile = flags['logFile'] as string | undefined;
    const rotating = logFile === undefined ? undefined : new RotatingFile(logFile);
    setOutput(rotating !== undefined ? fileSink(rotating, config.logFormat) : terminalSink(config.logFormat));
    if (config.logFormat === 'json') jsonWarnings();
    if (rotating !== undefined) {
      // A daemon's stderr goes nowhere: a crash of the primary must reach its log file.
      process.on('uncaughtException', (err) => {
        log.error('primary.crash', `the primary crashed: ${err.stack ?? String(err)}`);
        void rotating.close().then(() => process.exit(1));
      });
    }
    if (file !== undefined) log.info('config.file', `config file ${file.path}`);
    const primary = new Primary(config);
    primary.onStopped = (code, failure) => {
      log.info('stopped', code === 0 ? 'stopped: every worker drained' : 'stopped: not cleanly (see above)', { code });
      tell({ type: 'failed', message: failure?.message ?? 'it stopped before every worker was ready' });
      void (rotating?.close() ?? Promise.resolve()).then(() => process.exit(code));
    };
    try {
      await primary.start();
    } catch (err) {
      tell({ type: 'failed', message: (err as Error).message });
      throw err;
    }
    handleSignals(primary);
    if (config.watch.length > 0) watchForReload(config.watch, () => primary.reload());
    void primary.allReady.then(() => {
      const address = primary.address!;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      if (logFile !== undefined) reportReady(config, argv, logFile, { type: 'ready', pid: process.pid, url: `http://${host}:${address.port}`, controlPath: primary.controlPath, workers: config.workers });
    });
  });
}

/**
 * A config file with several apps (PM2's `apps` array) and no --only: each app starts detached,
 * one after another, with the same flags; 1 if any did not start.
 */
async function startEach(apps: readonly EcosystemApp[], argv: readonly string[]): Promise<number> {
  let failed = 0;
  for (const app of apps) {
    const end = argv.indexOf('--');
    const own = end < 0 ? [...argv] : argv.slice(0, end);
    const args = [...own.filter((a) => a !== '-d' && a !== '--daemon'), '--only', app.name, '--daemon', ...(end < 0 ? [] : argv.slice(end))];
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(process.execPath, [...process.execArgv, CLI, 'start', ...args], { timeout: 10 * 60_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, output: `${stdout}${stderr}`.trimEnd() }));
    });
    if (result.code !== 0) failed++;
    (result.code === 0 ? process.stdout : process.stderr).write(`${result.output}\n`);
  }
  return failed > 0 ? 1 : 0;
}

/**
 * In JSON mode Node's own warnings (deprecations, experimental features) of the primary become
 * `node.warning` lines too, instead of text a log shipper cannot parse.
 */
function jsonWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn('node.warning', `${warning.name}: ${warning.message}`, { code: (warning as { code?: string }).code ?? null }));
}

/** SIGINT/SIGTERM drain (twice: kill), SIGHUP reloads. */
function handleSignals(primary: Primary): void {
  let signals = 0;
  const stop = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn('signal.kill', `${signal} again: killing every worker now.`);
      primary.kill();
      process.exit(1);
    }
    log.info('signal.drain', `${signal}: draining workers (up to ${primary.config.killTimeout} ms; ${signal} again to force)`);
    void primary.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => void primary.reload());
}

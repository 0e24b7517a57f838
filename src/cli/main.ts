#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { CorralError } from '../errors';
import { log } from '../log';
import { resolveConfig } from '../options';
import { Primary } from '../primary/primary';

const program = new Command('corral')
  .description('Run a Node.js realtime server on every core, with sticky sessions.')
  .version(version(), '-v, --version')
  .showHelpAfterError('(corral --help lists the commands)');

program
  .command('start')
  .description('start APP clustered: one primary owns the port, one worker per slot runs the app')
  .argument('<app>', "your server's entry script (CommonJS or ESM)")
  .argument('[args...]', 'arguments for the app, after --: corral start app.js -w 2 -- --app-flag')
  .option('-w, --workers <n>', 'worker processes, or "auto" for one per core', 'auto')
  .option('-p, --port <port>', 'public port (default: $PORT or 3000)')
  .option('-H, --host <address>', 'address to bind (default: every interface)')
  .option('-s, --sticky <strategy>', 'routing: sid (Engine.IO session), ip (client address) or none', 'sid')
  .option('--max-head-bytes <n>', 'most bytes read to find a request line (sid routing)', '8192')
  .option('--head-timeout <ms>', 'time a new connection has to send its request line', '10000')
  .option('--kill-timeout <ms>', 'time workers get to drain on shutdown before being killed', '5000')
  .action(async (app: string, args: string[], flags: Record<string, string | undefined>) => {
    const config = resolveConfig({
      app,
      appArgs: args,
      workers: flags['workers'],
      port: flags['port'],
      host: flags['host'],
      sticky: flags['sticky'],
      maxHeadBytes: flags['maxHeadBytes'],
      headTimeout: flags['headTimeout'],
      killTimeout: flags['killTimeout'],
    });
    const primary = new Primary(config);
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
    void primary.stop().then((code) => {
      log.info(code === 0 ? 'stopped: every worker drained' : 'stopped: some workers had to be killed');
      process.exit(code);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

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
  if (err instanceof InvalidArgumentError) process.exit(2);
  throw err;
});

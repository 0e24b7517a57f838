import type { Command } from 'commander';
import { balancerOf, lbConfig, resolveLbPlan } from '../lb';

interface LbFlags {
  hosts?: string;
  listen?: string;
  slotPorts?: string;
  workers?: string;
  proxyProtocol?: boolean;
}

/**
 * `corral lb-config nginx|haproxy --hosts ID=ADDR:PORT,... [--listen [ADDR:]PORT] [--slot-ports BASE --workers N]`:
 * print a front balancer configuration that routes every Engine.IO session to the host (and
 * worker) that issued it. Bad input throws `ERR_CORRAL_BAD_OPTION` (exit 2 in main.ts).
 */
export function registerLbConfig(program: Command): void {
  program
    .command('lb-config')
    .description('print an nginx or HAProxy config that routes each session to the host (and worker) whose id its sid starts with')
    // Optional here so that a missing or unknown balancer gets corral's own message and exit code.
    .argument('[balancer]', 'nginx or haproxy')
    .option('--hosts <list>', 'ID=ADDR:PORT[,ID=ADDR:PORT...]: every host by its --host-id, and its corral public port')
    .option('--listen <[addr:]port>', 'where the balancer listens (default: 80, every IPv4 interface)')
    .option('--slot-ports <base>', 'the hosts run corral with --slot-ports BASE: route to each worker slot\'s own port')
    .option('--workers <n>', 'worker slots per host, with --slot-ports (1 to 1024)')
    .option('--no-proxy-protocol', 'HAProxy: do not send the PROXY v2 header (then corral sees the balancer as the client; run it with --trust-proxy for X-Forwarded-For)')
    .addHelpText('after', '\nExample:\n  corral lb-config nginx --hosts web-1=10.0.0.11:3000,web-2=10.0.0.12:3000 --listen 80 > corral.conf\n  nginx -p . -c corral.conf')
    // Usage errors commander catches itself (a flag without its value, an unknown flag) exit 2
    // like corral's own bad options; its message, already printed, names the flag.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action((balancer: string | undefined, flags: LbFlags) => {
      const kind = balancerOf(balancer);
      const plan = resolveLbPlan({ hosts: flags.hosts, listen: flags.listen, slotPorts: flags.slotPorts, workers: flags.workers, proxyProtocol: flags.proxyProtocol });
      process.stdout.write(lbConfig(kind, plan));
    });
}

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port of the kernel's ephemeral range (what port 0 binds draw from); Linux's default is 32768. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether `port` can be bound on `host` right now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the kernel calls free on `host` (bound with port 0, then released). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One port free on every address in `hosts` (two "machines" serving the same port), bounded in tries. */
export async function freeCommonPort(hosts: readonly string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort(hosts[0]);
    const free = await Promise.all(hosts.slice(1).map((h) => canBind(h, port)));
    if (free.every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} after 50 tries`);
}

/**
 * The first of `count` consecutive ports free on every address in `hosts` (for `--slot-ports`),
 * bounded in tries. Drawn below the kernel's ephemeral range, so that nothing bound to port 0
 * meanwhile (a corral's own public port, a client's source port) can take one of them before
 * corral binds them.
 */
export async function freePortRun(count: number, hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  const low = ephemeralLow();
  for (let i = 0; i < 50; i++) {
    const base = 10_000 + Math.floor(Math.random() * (low - 10_000 - count));
    const checks = await Promise.all(hosts.flatMap((h) => Array.from({ length: count }, (_, k) => canBind(h, base + k))));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no run of ${count} free ports on ${hosts.join(', ')} after 50 tries`);
}

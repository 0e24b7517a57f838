/** A redis-server of the bench's own: a free port of 127.0.0.1, nothing kept on disk. */
import { redisAnswers } from '../../test/helpers/redis';
import { freePort } from '../contenders';
import { ProcessGroup } from './group';

/** A running redis-server (its own process group). */
export class BenchRedis {
  private constructor(
    private readonly group: ProcessGroup,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.group.pid;
  }

  /** Starts it and waits (bounded) until it answers PING, or throws. */
  static async start(deadlineMs = 10_000): Promise<BenchRedis> {
    const port = await freePort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const group = new ProcessGroup('redis', 'redis-server', args);
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && group.exitedHow === null) {
      if (await redisAnswers(port)) return new BenchRedis(group, port);
      await new Promise((r) => setTimeout(r, 50));
    }
    const why = group.exitedHow ?? `no PONG within ${deadlineMs} ms`;
    await group.stop(1000);
    throw new Error(`redis-server on port ${port}: ${why} (apt-get install -y redis-server)\n${group.output()}`);
  }

  /** Idempotent. */
  stop(): Promise<void> {
    return this.group.stop(2000);
  }
}

/** "Is anything else using the CPU?" before each contender, with the warnings it raised. */
import { sampleMachine } from './proc';

const BUSY_PCT = 15;

export class LoadCheck {
  readonly warnings: string[] = [];

  /** @param idleWaitMs how long to wait for the machine to go idle before warning (0: just warn). */
  constructor(private readonly idleWaitMs: number) {}

  async check(when: string): Promise<void> {
    const ignore = new Set([process.pid]);
    const until = Date.now() + this.idleWaitMs;
    let load = await sampleMachine(200, ignore);
    while (load.busyPct > BUSY_PCT && Date.now() < until) load = await sampleMachine(500, ignore);
    if (load.busyPct <= BUSY_PCT) return;
    const hogs = load.hogs
      .slice(0, 3)
      .map((h) => `${h.comm} [${h.pid}] ${h.pct}%`)
      .join(', ');
    const w = `${when}: machine ${load.busyPct}% busy before the run (load avg ${load.loadavg1})${hogs ? `; using CPU: ${hogs}` : ''}`;
    this.warnings.push(w);
    console.log(`WARNING ${w}`);
  }
}

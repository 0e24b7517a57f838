import type { Command } from 'commander';

/** `corral lb-config nginx|haproxy ...`: print a front balancer configuration (being written). */
export function registerLbConfig(_program: Command): void {}

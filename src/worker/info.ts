import { currentRuntime } from './runtime';

/** Whether this process is a corral worker. */
export function isWorker(): boolean {
  return currentRuntime() !== undefined;
}

/** This worker's slot (`0..workers-1`), or undefined outside corral. Slots survive respawns. */
export function workerSlot(): number | undefined {
  return currentRuntime()?.slot;
}

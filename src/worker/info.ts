import { currentRuntime } from './runtime';

/** Whether this process is a corral worker. */
export function isWorker(): boolean {
  return currentRuntime() !== undefined;
}

/** This worker's slot (`0..workers-1`), or undefined outside corral. Slots survive respawns. */
export function workerSlot(): number | undefined {
  return currentRuntime()?.slot;
}

/**
 * Tell corral this worker is warmed up and may take connections. Only needed with
 * `--wait-ready` (otherwise a worker is ready once its server listens). No-op outside corral.
 */
export function ready(): void {
  currentRuntime()?.appReady();
}

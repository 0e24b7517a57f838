/** Helpers every workload uses. */
import type { MarkName, WorkloadResult } from '../types';

export type Mark = (name: MarkName) => Promise<void>;

export function emptyResult(): WorkloadResult {
  return { rate: 0, attempted: 0, ok: 0, failed: 0, hung: 0, reasons: {}, p50: null, p99: null, pids: {}, connections: null, extra: {}, handoffUs: null, afterSendUs: null };
}

export function countReason(r: WorkloadResult, reason: string): void {
  r.reasons[reason] = (r.reasons[reason] ?? 0) + 1;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `stepMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() >= until) return false;
    await sleep(stepMs);
  }
  return true;
}

/** Runs `task(i)` for i in 0..n-1 with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, lane));
}

/** Runs `task(i)` in `concurrency` lanes until `untilMs` (performance.now() time) or `maxOps` started. */
export async function timedPool(concurrency: number, untilMs: number, maxOps: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < maxOps && performance.now() < untilMs) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

export function addressFor(addresses: readonly string[], i: number): string {
  return addresses[i % addresses.length] ?? '127.0.0.1';
}

/** Messages between bench/idle/run.ts and its client processes (bench/idle/client.ts). */

/** Bench -> client. */
export type ToIdleClient =
  /** Open `count` connections, numbered from `from` (the source address is picked by number). */
  | { type: 'open'; url: string; addresses: readonly string[]; from: number; count: number; concurrency: number; deadlineMs: number }
  /** Every connection asks its worker's pid again (an acked event): still served? */
  | { type: 'check'; deadlineMs: number }
  | { type: 'report' }
  | { type: 'close' };

/** Counts by reason. */
export type Reasons = Record<string, number>;

/** Client -> bench. */
export type FromIdleClient =
  /** Its message handler is installed: the bench may send. */
  | { type: 'hello' }
  | { type: 'opened'; connected: number; failed: number; reasons: Reasons; pids: Record<string, number>; ms: number }
  | { type: 'checked'; answered: number; unanswered: number; pids: Record<string, number> }
  /** `dropped`: connections that closed after they were ready, by close code. */
  | { type: 'report'; alive: number; dropped: number; reasons: Reasons; pings: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

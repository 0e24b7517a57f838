/** A slot the router may pick: ready to take connections, with its current load. */
export interface Candidate {
  readonly slot: number;
  /** Open connections plus those handed off and not yet counted by the worker. */
  readonly load: number;
}

/** What the primary knows of a connection when it routes it. */
export interface Connection {
  /** Peer address, IPv4-mapped IPv6 already unwrapped (`127.0.0.2`, not `::ffff:127.0.0.2`). */
  readonly remoteAddress: string;
  /** The request line (without CRLF) when the strategy reads one, else undefined. */
  readonly requestLine: string | undefined;
}

/**
 * A sticky-routing strategy. `pick` is called only with a non-empty candidate list and must
 * return one of its slots.
 */
export interface Router {
  readonly name: Strategy;
  /** Whether the primary must read the request line before calling `pick`. */
  readonly readsHead: boolean;
  pick(connection: Connection, candidates: readonly Candidate[]): number;
  /** The slot this connection must reach to find its state (a session's), or -1 when any will do. */
  stickySlot?(connection: Connection): number;
}

export type Strategy = 'sid' | 'ip' | 'none';
export const STRATEGIES: readonly Strategy[] = ['sid', 'ip', 'none'];

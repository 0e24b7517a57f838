/** A slot the router may pick: ready to take connections, with its current load. */
export interface Candidate {
  readonly slot: number;
  /** Open connections plus those handed off and not yet counted by the worker. */
  readonly load: number;
  /** A rolling reload will replace this worker: what may go anywhere goes elsewhere while it can, so it moves once, not twice. */
  readonly outgoing?: boolean;
}

/**
 * What a router sees of a request. The primary builds it from the bytes it read of a
 * connection (its first request), a worker from each request it parsed (keep-alive carries
 * more than one), so both route a request the same way.
 */
export interface RoutedRequest {
  /**
   * The client's address: the socket's peer (IPv4-mapped IPv6 unwrapped), or the source of a
   * PROXY protocol header. '' when the strategy needs no address.
   */
  readonly remoteAddress: string;
  /** The request target (`/socket.io/?EIO=4&sid=...`), undefined when not read. */
  readonly url: string | undefined;
  /**
   * Every value of a header (name in lower case) joined with `, ` (`; ` for `cookie`, as Node
   * joins them), or undefined when absent or when the head was not read.
   */
  header(name: string): string | undefined;
}

/** How much of a connection the primary must read before it routes it. */
export type Reads = 'nothing' | 'line' | 'head';

/** A sticky-routing strategy: a pure function of the request and the live slots. */
export interface Router {
  readonly name: Strategy;
  /** What the primary reads of a new connection before it calls {@link route}. */
  readonly reads: Reads;
  /**
   * Whether a worker must route every request it parses, not only the first of a connection:
   * a keep-alive connection (a browser's, a balancer's pool) carries requests of other
   * sessions, visitors or keys, which it forwards to their worker.
   */
  readonly perRequest: boolean;
  /** The slot among `live` this request belongs to, or -1 when any will do (the least-loaded takes it). */
  route(request: RoutedRequest, live: readonly Candidate[]): number;
  /**
   * The slot the request names (its Engine.IO session's, its visitor's cookie), live or not, or
   * -1. Requests naming the slot of an unresponsive worker are answered 503 rather than sent
   * to a stranger.
   */
  namedSlot(request: RoutedRequest): number;
}

export type Strategy = 'sid' | 'ip' | 'cookie' | 'query' | 'header' | 'none';
/** The strategies as `--sticky` takes them (`query` and `header` take a name: `query:room`). */
export const STRATEGIES: readonly string[] = ['sid', 'ip', 'cookie', 'query:NAME', 'header:NAME', 'none'];

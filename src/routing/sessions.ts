import { sidOfTarget, slotOfSid } from '../protocol/sid';

/** Default Engine.IO path (Socket.IO's); workers announce others through `attach(io)`. */
export const DEFAULT_ENGINE_PATH = '/socket.io/';

/**
 * Where Engine.IO session ids live and which are this host's: `sid` counts only on the
 * Engine.IO paths (elsewhere it is the app's own business) and only with this host's prefix.
 * Shared by every strategy, since a valid sid wins over a cookie or a key.
 */
export class EngineSessions {
  /** Normalized paths (trailing slash). */
  readonly #paths: string[];
  /** `<host id>.`: a sid of another host names no slot here. */
  readonly #hostPrefix: string;

  constructor(hostId: string, paths: readonly string[] = []) {
    this.#hostPrefix = `${hostId}.`;
    this.#paths = [...paths];
  }

  /** Read `sid` on this path too. Returns false when it was known already. */
  addPath(path: string): boolean {
    if (this.#paths.includes(path)) return false;
    this.#paths.push(path);
    return true;
  }

  get paths(): readonly string[] {
    return this.#paths;
  }

  /** The slot named by the sid of this request target, or -1. Costs a length check while no path is known. */
  slotOf(url: string | undefined): number {
    if (url === undefined || this.#paths.length === 0) return -1;
    const sid = sidOfTarget(url, this.#paths);
    return sid === undefined ? -1 : slotOfSid(sid, this.#hostPrefix);
  }

  /** Whether this target is on an Engine.IO path and carries a `sid` (any, valid or not). */
  hasSid(url: string | undefined): boolean {
    return url !== undefined && this.#paths.length > 0 && sidOfTarget(url, this.#paths) !== undefined;
  }
}

/**
 * Every error corral raises on purpose is a {@link CorralError} with a stable `code`.
 * Codes are part of the public API and listed in the README; messages say what happened
 * and what to do about it.
 */
export type CorralErrorCode =
  | 'ERR_CORRAL_BAD_OPTION'
  | 'ERR_CORRAL_APP_NOT_FOUND'
  | 'ERR_CORRAL_PORT_IN_USE'
  | 'ERR_CORRAL_LISTEN_FAILED'
  | 'ERR_CORRAL_LISTEN_CONFLICT'
  | 'ERR_CORRAL_WORKER_CRASH_LOOP'
  | 'ERR_CORRAL_ILLEGAL_TRANSITION'
  | 'ERR_CORRAL_CONTROL_IN_USE'
  | 'ERR_CORRAL_CONTROL_FAILED'
  | 'ERR_CORRAL_NOT_RUNNING'
  | 'ERR_CORRAL_UNSAFE_RUNTIME_DIR'
  | 'ERR_CORRAL_REDIS_UNREACHABLE'
  | 'ERR_CORRAL_UNSUPPORTED_NODE';

/** The one error class of corral; tell errors apart by {@link CorralError.code}. */
export class CorralError extends Error {
  /** Stable, documented identifier of the failure, e.g. `ERR_CORRAL_BAD_OPTION`. */
  readonly code: CorralErrorCode;

  constructor(code: CorralErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CorralError';
    this.code = code;
  }
}

/** A value as the user gave it, for an error message: never throws (BigInt, cycles, null prototypes). */
export function shown(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  } catch {
    // circular: described below
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

import { randomBytes } from 'node:crypto';

/**
 * Engine.IO session ids that carry the slot of the worker that owns the session:
 * `<slot in base36>.<120 random bits, base64url>`, e.g. `1.q0UfbB8Nu8ft3pWZVAFy`.
 * URL-safe, so it passes unescaped in `?sid=`; the first `.` ends the slot.
 * The primary routes on it without keeping any table.
 */
export function generateSid(slot: number): string {
  return `${slot.toString(36)}.${randomBytes(15).toString('base64url')}`;
}

/** Longest slot prefix we accept: base36 of 2^31 fits in 6 characters. */
const MAX_SLOT_DIGITS = 6;

/** Slot named by a session id, or -1 when the id does not carry one (forged, foreign, garbled). */
export function slotOfSid(sid: string): number {
  const dot = sid.indexOf('.');
  if (dot < 1 || dot > MAX_SLOT_DIGITS) return -1;
  let slot = 0;
  for (let i = 0; i < dot; i++) {
    const c = sid.charCodeAt(i);
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48; // 0-9
    else if (c >= 97 && c <= 122) digit = c - 87; // a-z
    else return -1;
    slot = slot * 36 + digit;
  }
  return slot;
}

/**
 * Engine.IO's own path rule: the configured path, with a trailing slash, is a prefix of the URL.
 * `normalizePath('/socket.io')` gives `/socket.io/`.
 */
export function normalizeEnginePath(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}

/**
 * The `sid` query parameter of a request target (`/socket.io/?EIO=4&sid=...`), or undefined.
 * `paths` (normalized) are the Engine.IO paths the workers announced: a `sid` elsewhere is
 * the app's own business. Works on the raw target, without building a URL.
 */
export function sidOfTarget(target: string, paths: readonly string[]): string | undefined {
  const q = target.indexOf('?');
  if (q < 0 || !paths.some((p) => target.startsWith(p))) return undefined;
  let i = q + 1;
  while (i < target.length) {
    let end = target.indexOf('&', i);
    if (end < 0) end = target.length;
    if (end - i > 4 && target.startsWith('sid=', i)) return target.slice(i + 4, end);
    i = end + 1;
  }
  return undefined;
}

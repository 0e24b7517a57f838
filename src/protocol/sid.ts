import { randomBytes } from 'node:crypto';

/**
 * Engine.IO session ids that carry the host and the slot of the worker that owns the session:
 * `<host id>.<slot in base36>.<120 random bits, base64url>`, e.g. `web-1.1.q0UfbB8Nu8ft3pWZVAFy`.
 * URL-safe, so it passes unescaped in `?sid=`; host ids hold no `.`, so the first two dots
 * end the host and the slot. The primary routes on the slot without keeping any table, and a
 * front balancer (nginx `map $arg_sid`, HAProxy `urlp(sid) -m beg`) routes on the prefix.
 */
export function generateSid(host: string, slot: number): string {
  return `${host}.${slot.toString(36)}.${randomBytes(15).toString('base64url')}`;
}

/** What a host id may be: a DNS label, lower case (safe in a URL, a regex and a file name). */
export const HOST_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Longest slot part we accept: base36 of 2^31 fits in 6 characters. */
const MAX_SLOT_DIGITS = 6;
const DOT = 0x2e;

/**
 * Slot named by a session id issued on this host, or -1 when it names another host or
 * carries no slot (forged, foreign, garbled). `hostPrefix` is `<host id>.`: comparing a
 * prefix builds no string on the primary's hot path.
 */
export function slotOfSid(sid: string, hostPrefix: string): number {
  if (!sid.startsWith(hostPrefix)) return -1;
  return slotAt(sid, hostPrefix.length);
}

/** Host and slot of any corral session id (for diagnostics and tests), or undefined. */
export function parseSid(sid: string): { host: string; slot: number } | undefined {
  const dot = sid.indexOf('.');
  if (dot < 1) return undefined;
  const host = sid.slice(0, dot);
  if (!HOST_ID_PATTERN.test(host)) return undefined;
  const slot = slotAt(sid, dot + 1);
  return slot < 0 ? undefined : { host, slot };
}

/** The base36 slot from `start` up to the next `.`, or -1. */
function slotAt(sid: string, start: number): number {
  const dot = sid.indexOf('.', start);
  if (dot <= start || dot - start > MAX_SLOT_DIGITS || dot === sid.length - 1) return -1;
  let slot = 0;
  for (let i = start; i < dot; i++) {
    const c = sid.charCodeAt(i);
    let digit: number;
    if (c >= 48 && c <= 57) digit = c - 48; // 0-9
    else if (c >= 97 && c <= 122) digit = c - 87; // a-z
    else return -1;
    slot = slot * 36 + digit;
  }
  return sid.charCodeAt(dot) === DOT ? slot : -1;
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

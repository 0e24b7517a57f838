/**
 * Reading what routing needs from an HTTP/1 request head as text (latin1, as Node decodes
 * headers), without parsing the rest: one header's value, one query parameter, one cookie.
 * The primary runs these on the bytes it read; a worker reads the same values off
 * `IncomingMessage`, so both must agree with Node's own parser on what a value is.
 */

/**
 * Headers whose duplicates Node drops (the first wins) when it builds `req.headers`; every
 * other header's values are joined with `, ` (`cookie`'s with `; `).
 */
const FIRST_ONLY = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

const LF = 10;
const CR = 13;
const COLON = 58;

/**
 * The value of header `name` (lower case) in `head` (the request line, then header lines, up
 * to the blank line or the end), as `req.headers[name]` would hold it; undefined if absent.
 */
export function headerValue(head: string, name: string): string | undefined {
  const n = name.length;
  const separator = name === 'cookie' ? '; ' : ', ';
  const firstOnly = FIRST_ONLY.has(name);
  let result: string | undefined;
  // The request line is not a header.
  let i = head.indexOf('\n') + 1;
  while (i > 0 && i < head.length) {
    let end = head.indexOf('\n', i);
    if (end < 0) end = head.length;
    const stop = end > i && head.charCodeAt(end - 1) === CR ? end - 1 : end;
    if (stop === i) break; // the blank line ends the head
    if (stop - i > n && head.charCodeAt(i + n) === COLON && namedAt(head, i, name)) {
      const value = head.slice(i + n + 1, stop).trim();
      if (result === undefined) result = value;
      else if (!firstOnly) result = `${result}${separator}${value}`;
    }
    i = end + 1;
  }
  return result;
}

/** Whether the header line at `at` starts with `name` (lower case), in any case. */
function namedAt(head: string, at: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const c = head.charCodeAt(at + k);
    const e = name.charCodeAt(k);
    if (c !== e && !(c >= 65 && c <= 90 && c + 32 === e)) return false;
  }
  return true;
}

/**
 * The first value of query parameter `name` in a request target, decoded as
 * `URLSearchParams` does (`+` is a space, then percent-decoding; a malformed escape keeps the
 * raw text); undefined when absent or empty.
 */
export function queryValue(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  let i = q + 1;
  // Clients never send a fragment; one before the query would hide it.
  const hash = url.indexOf('#');
  if (hash >= 0 && hash < q) return undefined;
  const last = hash < 0 ? url.length : hash;
  while (i < last) {
    let end = url.indexOf('&', i);
    if (end < 0 || end > last) end = last;
    if (end - i > name.length && url.charCodeAt(i + name.length) === 61 && url.startsWith(name, i)) {
      const raw = url.slice(i + name.length + 1, end);
      return raw === '' ? undefined : decodeQuery(raw);
    }
    i = end + 1;
  }
  return undefined;
}

function decodeQuery(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  const spaced = raw.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** The value of cookie `name` in a `Cookie` header (`a=1; b=2`), or undefined. The first wins, as in browsers' order. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let i = 0;
  while (i < header.length) {
    while (header.charCodeAt(i) === 32) i++;
    let end = header.indexOf(';', i);
    if (end < 0) end = header.length;
    if (end - i > name.length && header.charCodeAt(i + name.length) === 61 && header.startsWith(name, i)) {
      return header.slice(i + name.length + 1, end).trim();
    }
    i = end + 1;
  }
  return undefined;
}

/**
 * HAProxy's PROXY protocol, v1 (text) and v2 (binary), read from the first bytes of a
 * connection so the primary learns the client a front balancer saw. Spec:
 * https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 *
 * The parser is prefix-aware: it answers 'incomplete' only while the bytes read so far can
 * still begin a valid header, so a garbled or hostile prefix is refused on the read that
 * shows it, not after a timeout. It allocates only the answer (the 'incomplete' and
 * 'invalid' answers are shared constants) and never throws.
 */

import { BAD, OUT, ipText, ipv4Text, isMapped, scanIPv4, scanIPv6 } from './ip';

/**
 * The client the proxy saw. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is given as the
 * IPv4 address, as corral gives peer addresses everywhere; IPv6 is in Node's canonical form.
 */
export interface ProxySource {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

/**
 * What the bytes read so far hold. 'header': a complete header of `length` bytes (what
 * follows is the client's own data); `source` is undefined when the header says to use the
 * real peer (v1 UNKNOWN, v2 LOCAL, v2 UNSPEC or UNIX family). 'incomplete': a valid prefix,
 * read more. 'invalid': no valid header can start with these bytes; `reason` is for logs.
 */
export type ProxyParse =
  | { readonly kind: 'header'; readonly length: number; readonly source: ProxySource | undefined }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Longest v1 header, CRLF included (spec section 2.1): a v1 header ends within these bytes. */
export const PROXY_V1_MAX = 107;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
/** "PROXY " */
const V1_SIG: readonly number[] = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20];
const V2_SIG: readonly number[] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const TCP4 = ascii('TCP4 ');
const TCP6 = ascii('TCP6 ');
const UNKNOWN = ascii('UNKNOWN');
/** v2: signature, version/command, family/transport, 16-bit length. */
const V2_FIXED = 16;
/** Shortest v2 address block for each family (UNSPEC, INET, INET6, UNIX), spec section 2.2. */
const V2_MIN_ADDRESS_LENGTH: readonly number[] = [0, 12, 36, 216];

// Field scanners return the index where their field stopped, or, like ./ip's address
// scanners, OUT when the bytes ran out while the field was still a valid prefix, BAD when it
// cannot be completed.

const INCOMPLETE: ProxyParse = Object.freeze({ kind: 'incomplete' });
const invalid = (reason: string): ProxyParse => Object.freeze({ kind: 'invalid', reason });
const NOT_PROXY = invalid('not a PROXY protocol header');
const V1_PROTOCOL = invalid('PROXY v1: protocol is not TCP4, TCP6 or UNKNOWN');
const V1_SRC_ADDRESS = invalid('PROXY v1: bad source address');
const V1_DST_ADDRESS = invalid('PROXY v1: bad destination address');
const V1_SRC_PORT = invalid('PROXY v1: bad source port');
const V1_DST_PORT = invalid('PROXY v1: bad destination port');
const V1_CRLF = invalid('PROXY v1: line does not end with CRLF');
const V1_TOO_LONG = invalid(`PROXY v1: no CRLF within ${PROXY_V1_MAX} bytes`);
const V2_VERSION = invalid('PROXY v2: version is not 2');
const V2_COMMAND = invalid('PROXY v2: command is not LOCAL or PROXY');
const V2_FAMILY = invalid('PROXY v2: unknown address family');
const V2_TRANSPORT = invalid('PROXY v2: unknown transport protocol');
const V2_TOO_LONG = invalid('PROXY v2: header longer than allowed');
const V2_SHORT = invalid('PROXY v2: length too short for the address family');

// Scratch space for IPv6 groups: parsing is synchronous and the groups are turned into a
// string before parseProxyHeader returns, so one pair of arrays serves every call.
const SRC_WORDS = new Uint16Array(8);
const DST_WORDS = new Uint16Array(8);

/**
 * Parse a PROXY header at the start of `bytes` (everything read so far). `maxLength`: most
 * bytes a v2 header may take in all (16 + its length field); longer is invalid. A v1 line is
 * bounded by PROXY_V1_MAX alone. Pure and synchronous, never throws, and reads nothing at or
 * past `bytes.length`, so the caller can pass a view of its read buffer.
 */
export function parseProxyHeader(bytes: Buffer, maxLength: number): ProxyParse {
  if (bytes.length === 0) return INCOMPLETE;
  const first = bytes[0];
  if (first === V1_SIG[0]) return parseV1(bytes);
  if (first === V2_SIG[0]) return parseV2(bytes, maxLength);
  return NOT_PROXY;
}

/**
 * Whether `bytes` starts with a PROXY header signature (v1 "PROXY " or the v2 12-byte
 * signature): true, false, or undefined when too few bytes to tell (what is there is a prefix
 * of a signature). For telling a proxied connection from a direct one before parsing.
 */
export function startsWithProxySignature(bytes: Buffer): boolean | undefined {
  // The signatures differ in their first byte, so at most one of them is not `false`.
  const v1 = matchSignature(bytes, V1_SIG);
  return v1 === false ? matchSignature(bytes, V2_SIG) : v1;
}

function parseV2(bytes: Buffer, maxLength: number): ProxyParse {
  const n = bytes.length;
  const sig = matchSignature(bytes, V2_SIG);
  if (sig === false) return NOT_PROXY;
  if (maxLength < V2_FIXED) return V2_TOO_LONG;
  if (sig === undefined || n < 13) return INCOMPLETE;
  const versionCommand = byteAt(bytes, 12);
  if (versionCommand >> 4 !== 2) return V2_VERSION;
  const command = versionCommand & 0x0f; // 0 LOCAL, 1 PROXY
  if (command > 1) return V2_COMMAND;
  if (n < 14) return INCOMPLETE;
  const familyTransport = byteAt(bytes, 13);
  const family = familyTransport >> 4; // 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX
  if (family > 3) return V2_FAMILY;
  if ((familyTransport & 0x0f) > 2) return V2_TRANSPORT; // 0 UNSPEC, 1 STREAM, 2 DGRAM
  if (n < V2_FIXED) return INCOMPLETE;
  const addressLength = (byteAt(bytes, 14) << 8) | byteAt(bytes, 15);
  const length = V2_FIXED + addressLength;
  if (length > maxLength) return V2_TOO_LONG;
  // LOCAL discards the address block "including the family" (spec 2.2), so it has no minimum.
  if (command === 1 && addressLength < (V2_MIN_ADDRESS_LENGTH[family] ?? 0)) return V2_SHORT;
  if (n < length) return INCOMPLETE;
  // Anything past the addresses (TLVs) lies within `length` and is skipped unread.
  if (command === 0 || family === 0 || family === 3) return header(length, undefined);
  if (family === 1) {
    const address = ipv4Text(uint16At(bytes, 16) * 0x10000 + uint16At(bytes, 18));
    return header(length, { address, port: uint16At(bytes, 24), family: 'IPv4' });
  }
  for (let i = 0; i < 8; i++) SRC_WORDS[i] = uint16At(bytes, 16 + 2 * i);
  return header(length, sourceOf(SRC_WORDS, uint16At(bytes, 48)));
}

function parseV1(bytes: Buffer): ProxyParse {
  const n = bytes.length;
  // Never look past the longest line: scanners treat PROXY_V1_MAX like the end of the bytes.
  const end = n < PROXY_V1_MAX ? n : PROXY_V1_MAX;
  const afterSig = matchLiteral(bytes, 0, V1_SIG);
  if (afterSig === BAD) return NOT_PROXY;
  if (afterSig === OUT) return INCOMPLETE;
  const tcp4 = matchLiteral(bytes, afterSig, TCP4);
  const tcp6 = tcp4 >= 0 ? BAD : matchLiteral(bytes, afterSig, TCP6);
  if (tcp4 < 0 && tcp6 < 0) {
    const unknown = matchLiteral(bytes, afterSig, UNKNOWN);
    if (unknown >= 0) return skipToCrlf(bytes, unknown, end);
    return tcp4 === OUT || tcp6 === OUT || unknown === OUT ? INCOMPLETE : V1_PROTOCOL;
  }
  const v6 = tcp6 >= 0;
  const scanAddress = v6 ? scanIPv6 : scanIPv4;
  // Each OUT below passes the fewest bytes a valid line still needs: " x" per field left + CRLF.
  const srcStart = v6 ? tcp6 : tcp4;
  const srcEnd = fieldEnd(scanAddress(bytes, srcStart, end, SRC_WORDS), end);
  if (srcEnd === OUT) return ranOut(n, 8);
  if (srcEnd === BAD || bytes[srcEnd] !== SP) return V1_SRC_ADDRESS;
  const dstEnd = fieldEnd(scanAddress(bytes, srcEnd + 1, end, DST_WORDS), end);
  if (dstEnd === OUT) return ranOut(n, 6);
  if (dstEnd === BAD || bytes[dstEnd] !== SP) return V1_DST_ADDRESS;
  const sportEnd = scanPort(bytes, dstEnd + 1, end);
  if (sportEnd === OUT) return ranOut(n, 4);
  if (sportEnd === BAD || bytes[sportEnd] !== SP) return V1_SRC_PORT;
  const dportEnd = scanPort(bytes, sportEnd + 1, end);
  if (dportEnd === OUT) return ranOut(n, 2);
  if (dportEnd >= 0 && bytes[dportEnd] === LF) return V1_CRLF; // a bare LF
  if (dportEnd === BAD || bytes[dportEnd] !== CR) return V1_DST_PORT;
  if (dportEnd + 1 >= end) return ranOut(n, 1);
  if (bytes[dportEnd + 1] !== LF) return V1_CRLF;
  return header(dportEnd + 2, sourceOf(SRC_WORDS, decimalAt(bytes, dstEnd + 1, sportEnd)));
}

/** v1 UNKNOWN: the rest of the line, if any, follows a space and is ignored (spec 2.1). */
function skipToCrlf(bytes: Buffer, pos: number, end: number): ProxyParse {
  if (pos >= end) return ranOut(bytes.length, 2);
  let c = byteAt(bytes, pos);
  if (c !== SP && c !== CR && c !== LF) return V1_PROTOCOL;
  let i = pos;
  while (c !== CR && c !== LF) {
    if (++i >= end) return ranOut(bytes.length, 2);
    c = byteAt(bytes, i);
  }
  if (c === LF) return V1_CRLF; // a bare LF
  if (i + 1 >= end) return ranOut(bytes.length, 1);
  return bytes[i + 1] === LF ? header(i + 2, undefined) : V1_CRLF;
}

/** The v1 answer when the bytes ran out: more may complete it unless the line would pass the limit. */
function ranOut(n: number, stillNeeded: number): ProxyParse {
  return n + stillNeeded > PROXY_V1_MAX ? V1_TOO_LONG : INCOMPLETE;
}

/**
 * An address scanner's answer as a v1 field: ./ip stops at `end` when an address is complete
 * there, but the field may still go on (`1.2.3.4` then `5`), so it has run out.
 */
function fieldEnd(stop: number, end: number): number {
  return stop === end ? OUT : stop;
}

/** Decimal port 0-65535, no sign, no leading zeros. */
function scanPort(bytes: Buffer, pos: number, end: number): number {
  let value = 0;
  for (let i = pos; i < end; i++) {
    const c = byteAt(bytes, i);
    if (c < 0x30 || c > 0x39) return i > pos ? i : BAD;
    if (i > pos && value === 0) return BAD; // leading zero
    value = value * 10 + (c - 0x30);
    if (value > 0xffff) return BAD;
  }
  return OUT;
}

/** The client at these groups: a mapped address (as ./ip holds IPv4 too) is the IPv4 client. */
function sourceOf(w: Uint16Array, port: number): ProxySource {
  return { address: ipText(w), port, family: isMapped(w) ? 'IPv4' : 'IPv6' };
}

/** Value of the (validated) decimal digits in bytes[start, stop). */
function decimalAt(bytes: Buffer, start: number, stop: number): number {
  let value = 0;
  for (let i = start; i < stop; i++) value = value * 10 + (byteAt(bytes, i) - 0x30);
  return value;
}

/** True when `bytes` starts with `sig`, false on a mismatch, undefined when it is a prefix. */
function matchSignature(bytes: Buffer, sig: readonly number[]): boolean | undefined {
  const r = matchLiteral(bytes, 0, sig);
  return r === OUT ? undefined : r !== BAD;
}

/** Index after `literal` at `pos`, OUT when bytes end within a match, BAD on a mismatch. */
function matchLiteral(bytes: Buffer, pos: number, literal: readonly number[]): number {
  for (let i = 0; i < literal.length; i++) {
    if (pos + i >= bytes.length) return OUT;
    if (bytes[pos + i] !== literal[i]) return BAD;
  }
  return pos + literal.length;
}

function header(length: number, source: ProxySource | undefined): ProxyParse {
  return { kind: 'header', length, source };
}

/** bytes[i], or -1 past the end (which matches no character); callers check bounds first. */
function byteAt(bytes: Buffer, i: number): number {
  return bytes[i] ?? -1;
}

function uint16At(bytes: Buffer, i: number): number {
  return (byteAt(bytes, i) << 8) | byteAt(bytes, i + 1);
}

function ascii(text: string): readonly number[] {
  return Array.from(text, (ch) => ch.charCodeAt(0));
}

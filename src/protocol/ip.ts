/**
 * IP addresses as text, read and written as Node reads and writes them, and a set of networks
 * to match them against: what the PROXY header parser and `--trust-proxy` share.
 *
 * Text is a string or the bytes of ASCII text (a Buffer read off a socket), so neither caller
 * converts. An address is held as its eight 16-bit groups (a `Uint16Array(8)` the caller owns,
 * so a hot path allocates nothing); an IPv4 address as its IPv4-mapped form `::ffff:a.b.c.d`.
 * One 128-bit space for both families is what gives {@link NetworkSet} node:net BlockList's
 * answers across families.
 */

/** Text to scan: a string, or bytes of ASCII text. */
export type IPText = string | Uint8Array;

// Exported apart from their declarations so that uses here stay plain constants in the
// CommonJS output (tsc writes a use of `export const X` as a load of `exports.X`).
/** What a scanner answers when the text ran out while it was still a valid prefix of an address. */
const OUT = -1;
/** What a scanner answers when no address can begin with the text. */
const BAD = -2;
export { BAD, OUT };

const COLON = 0x3a;
const DOT = 0x2e;

/** IPv6 text is built here: eight groups of four hex digits and seven colons at most. */
const TEXT = Buffer.alloc(39);
/** The dotted quad scanQuad last stopped after, as a signed 32-bit number (read it with `>>>`). */
let scannedQuad = 0;

/**
 * Scan a dotted quad as net.isIPv4 takes it (four decimal octets 0-255, no leading zeros) at
 * text[pos, end), writing it to `groups` (mapped). Returns where the address stopped: at the
 * first character that is not part of it, or at `end` when it is complete there; {@link OUT}
 * when the text ends within a valid prefix, {@link BAD} otherwise. Every check is made on the
 * character that breaks it. `groups` holds the address only when the answer is a stop.
 */
export function scanIPv4(text: IPText, pos: number, end: number, groups: Uint16Array): number {
  const stop = scanQuad(text, pos, end);
  if (stop >= 0) {
    groups[0] = groups[1] = groups[2] = groups[3] = groups[4] = 0;
    groups[5] = 0xffff;
    groups[6] = scannedQuad >>> 16;
    groups[7] = scannedQuad & 0xffff;
  }
  return stop;
}

/** {@link scanIPv4} leaving the address in `scannedQuad`. */
function scanQuad(text: IPText, pos: number, end: number): number {
  let dots = 0;
  let digits = 0;
  let octet = 0;
  let quad = 0;
  let i = pos;
  for (; i < end; i++) {
    const c = codeAt(text, i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return BAD; // a leading zero: octal to some parsers
      octet = octet * 10 + (c - 0x30);
      if (octet > 255) return BAD;
      digits++;
    } else if (c === DOT) {
      if (digits === 0 || dots === 3) return BAD;
      dots++;
      digits = 0;
      quad = (quad << 8) | octet; // int32: a double kept in scannedQuad would be boxed per call
      octet = 0;
    } else {
      break;
    }
  }
  if (dots < 3 || digits === 0) return i === end ? OUT : BAD;
  scannedQuad = (quad << 8) | octet;
  return i;
}

/**
 * Scan IPv6 text as net.isIPv6 takes it, without a zone id (RFC 4291 2.2: hex groups of 1-4
 * digits, at most one "::" standing for one or more zero groups, optionally ending in a dotted
 * quad that counts as two groups) at text[pos, end), writing its eight groups to `groups`.
 * Answers as {@link scanIPv4} does; `groups` holds the address only when the answer is a stop.
 */
export function scanIPv6(text: IPText, pos: number, end: number, groups: Uint16Array): number {
  let count = 0; // groups written so far
  let gap = -1; // groups before the "::", or -1 before any
  let digits = 0;
  let value = 0;
  let i = pos;
  if (i < end && codeAt(text, i) === COLON) {
    if (i + 1 >= end) return OUT;
    if (codeAt(text, i + 1) !== COLON) return BAD; // a lone leading ':'
    gap = 0;
    i += 2;
  }
  for (; i < end; i++) {
    const c = codeAt(text, i);
    const h = hexValue(c);
    if (h >= 0) {
      // Groups allowed: 8, or 7 once a "::" (which stands for at least one zero group) is seen.
      if (digits === 4 || (digits === 0 && count >= (gap < 0 ? 8 : 7))) return BAD;
      value = value * 16 + h;
      digits++;
    } else if (c === COLON) {
      if (digits === 0) {
        if (gap >= 0) return BAD; // a second "::", or ":::"
        gap = count;
      } else {
        groups[count++] = value;
        digits = 0;
        value = 0;
        if (count >= (gap < 0 ? 8 : 7)) return BAD; // no room for the group this ':' announces
      }
    } else if (c === DOT) {
      // The digits so far were the first octet of a dotted quad, which must end the address.
      if (gap < 0 ? count !== 6 : count > 5) return BAD;
      const start = i - digits;
      const stop = scanQuad(text, start, end);
      if (stop < 0) return stop;
      groups[count] = scannedQuad >>> 16;
      groups[count + 1] = scannedQuad & 0xffff;
      return expandGap(groups, count + 2, gap, stop);
    } else {
      break;
    }
  }
  if (digits > 0) groups[count++] = value;
  else if (gap !== count) return i === end ? OUT : BAD; // empty, or a trailing single ':'
  const stop = expandGap(groups, count, gap, i);
  // Too few groups where the text ends: more may follow.
  return stop === BAD && i === end ? OUT : stop;
}

/**
 * The IP address that is all of text[start, end), as net.isIP reads it (zone ids refused):
 * 4 or 6 by its family, with its groups (IPv4 mapped) written to `groups`, or 0 when it is not
 * an address.
 */
export function readIP(text: IPText, start: number, end: number, groups: Uint16Array): 0 | 4 | 6 {
  if (scanIPv4(text, start, end, groups) === end) return 4;
  return scanIPv6(text, start, end, groups) === end ? 6 : 0;
}

/** Whether the groups are an IPv4-mapped address, `::ffff:a.b.c.d`. */
export function isMapped(g: Uint16Array): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/**
 * The address as corral shows a peer: an IPv4-mapped address as the IPv4 address, any other
 * as Node writes `socket.remoteAddress` (libuv's inet_ntop6: lower case, no leading zeros, the
 * first longest run of two or more zero groups as "::", and a dotted tail for `::a.b.c.d`).
 */
export function ipText(g: Uint16Array): string {
  if (isMapped(g)) return ipv4Text(lastQuad(g));
  let best = -1;
  let bestLength = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  let run = -1;
  for (let i = 0; i < 8; i++) {
    if (g[i] !== 0) run = -1;
    else {
      if (run < 0) run = i;
      if (i + 1 - run > bestLength) {
        best = run;
        bestLength = i + 1 - run;
      }
    }
  }
  if (best === 0 && bestLength === 6) return `::${ipv4Text(lastQuad(g))}`;
  // Bytes decoded once: a chain of small string concatenations (or toString(16) per group)
  // measured about twice as slow.
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      TEXT[p++] = COLON;
      TEXT[p++] = COLON;
      i += bestLength - 1;
      continue;
    }
    if (i !== 0 && i !== best + bestLength) TEXT[p++] = COLON;
    const v = g[i] ?? 0;
    if (v >= 0x1000) TEXT[p++] = hexDigit(v >> 12);
    if (v >= 0x100) TEXT[p++] = hexDigit((v >> 8) & 0xf);
    if (v >= 0x10) TEXT[p++] = hexDigit((v >> 4) & 0xf);
    TEXT[p++] = hexDigit(v & 0xf);
  }
  return TEXT.toString('latin1', 0, p);
}

/** An IPv4 address, as a 32-bit number, in dotted decimal. */
export function ipv4Text(quad: number): string {
  return `${quad >>> 24}.${(quad >>> 16) & 0xff}.${(quad >>> 8) & 0xff}.${quad & 0xff}`;
}

/** Clear the bits of `groups` past the first `prefix` (0-128), in place: the network's address. */
export function clearHostBits(groups: Uint16Array, prefix: number): void {
  for (let k = 0; k < 8; k++) groups[k] = (groups[k] ?? 0) & prefixMask(prefix - 16 * k, 16);
}

/** A network: its address's groups (IPv4 mapped) and its prefix length out of 128. */
export interface Network128 {
  readonly groups: Uint16Array;
  readonly prefix: number;
}

/**
 * Networks, asked whether one holds an address. Both are 128-bit with IPv4 mapped, so the
 * answers are node:net BlockList's: an IPv4 network holds an IPv4 address and its mapped
 * IPv6 form, and an IPv6 network holding `::ffff:0:0/96` (such as `::/0`) holds every IPv4
 * address. A check is a few 32-bit compares per network and allocates nothing.
 */
export class NetworkSet {
  /** Eight numbers a network: its four 32-bit words, host bits cleared, then their masks. */
  readonly #words: Int32Array;

  constructor(networks: readonly Network128[]) {
    this.#words = new Int32Array(8 * networks.length);
    networks.forEach(({ groups, prefix }, n) => {
      for (let k = 0; k < 4; k++) {
        const mask = prefixMask(prefix - 32 * k, 32) | 0;
        this.#words[8 * n + k] = wordAt(groups, k) & mask;
        this.#words[8 * n + 4 + k] = mask;
      }
    });
  }

  /** Whether a network holds the address whose groups (IPv4 mapped) these are. */
  has(groups: Uint16Array): boolean {
    const a = wordAt(groups, 0);
    const b = wordAt(groups, 1);
    const c = wordAt(groups, 2);
    const d = wordAt(groups, 3);
    const w = this.#words;
    for (let i = 0; i < w.length; i += 8) {
      if ((a & w[i + 4]!) === w[i] && (b & w[i + 5]!) === w[i + 1] && (c & w[i + 6]!) === w[i + 2] && (d & w[i + 7]!) === w[i + 3]) return true;
    }
    return false;
  }
}

/** The mask of a `width`-bit field that has `bits` of a prefix (clamped to 0..width). */
function prefixMask(bits: number, width: number): number {
  const b = bits <= 0 ? 0 : bits >= width ? width : bits;
  return 2 ** width - 2 ** (width - b);
}

/** Word `k` (0-3) of the address, as a signed 32-bit number (what Int32Array gives back). */
function wordAt(g: Uint16Array, k: number): number {
  return ((g[2 * k] ?? 0) << 16) | (g[2 * k + 1] ?? 0);
}

/** Check the group count and expand the "::" in place; returns `stop` or BAD. */
function expandGap(groups: Uint16Array, count: number, gap: number, stop: number): number {
  if (gap < 0) return count === 8 ? stop : BAD;
  const tail = count - gap;
  groups.copyWithin(8 - tail, gap, count);
  groups.fill(0, gap, 8 - tail);
  return stop;
}

/** The last two groups as a 32-bit IPv4 address. */
function lastQuad(g: Uint16Array): number {
  return (g[6] ?? 0) * 0x10000 + (g[7] ?? 0);
}

/** The character at `i`, or -1 (which matches no character) past the end. */
function codeAt(text: IPText, i: number): number {
  return typeof text === 'string' ? text.charCodeAt(i) : (text[i] ?? -1);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20; // ASCII letters only differ by this bit
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

function hexDigit(d: number): number {
  return d < 10 ? 0x30 + d : 0x57 + d;
}

import { BlockList } from 'node:net';
import { CorralError } from '../errors';

// `--trust-proxy`: which peers may say, in X-Forwarded-For, who the client is. The option is
// parsed once; trusts() and forwardedClient() run per connection, so addresses are read by the
// scanners at the end of this file rather than by net.SocketAddress.

const COLON = 0x3a;
const DOT = 0x2e;

const ACCEPTED =
  'a comma-separated string (or an array of strings) of IPv4/IPv6 addresses and CIDRs, e.g. "10.0.0.0/8" or "fd00::/8", ' +
  'and the words "loopback" and "private", e.g. "loopback,10.0.0.0/8"';

/** A network as BlockList takes it, host bits already cleared. */
interface Network {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly prefix: number;
  /** `address/prefix`: the one spelling parseTrustProxy returns and deduplicates by. */
  readonly text: string;
}

/**
 * Parse `--trust-proxy` input: a comma-separated string or an array of such strings, whose
 * entries are IPv4/IPv6 addresses or CIDRs, or the words `loopback` (127.0.0.0/8, ::1/128) and
 * `private` (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7), case-insensitive.
 *
 * Returns the entries normalized (`127.0.0.1` -> `127.0.0.1/32`, `FD00:0::/8` -> `fd00::/8`,
 * IPv4-mapped `::ffff:10.0.0.0/104` -> `10.0.0.0/8`), words expanded in place, exact duplicates
 * dropped (the first kept), in input order, frozen. Host bits are accepted and cleared, as most
 * tools do (`10.0.0.1/8` -> `10.0.0.0/8`). Entries are trimmed. `undefined`, an empty or blank
 * string and an empty array mean "trust no proxy" (`[]`).
 *
 * @throws CorralError `ERR_CORRAL_BAD_OPTION` naming the bad entry: not an address, a prefix past
 * 32/128, a zone id, an empty entry (`"a,,b"`, a trailing comma), or a value that is not a string
 * or an array of strings (`true` too: corral trusts only networks it is told).
 */
export function parseTrustProxy(value: unknown): readonly string[] {
  return Object.freeze(networksOf(value).map((n) => n.text));
}

/**
 * The trusted networks, built once from {@link parseTrustProxy}'s output, answering "may this
 * peer speak for the client?" per connection. Matching is node:net's `BlockList`; an IPv4-mapped
 * address (`::ffff:10.0.0.1`) is checked as the IPv4 address it is, so `10.0.0.0/8` covers it,
 * and an IPv6 network holding `::ffff:0:0/96` (such as `::/0`) covers every IPv4 address.
 */
export class TrustList {
  /** How many distinct networks are trusted; 0 means every answer is "no". */
  readonly size: number;
  readonly #blocks = new BlockList();
  // BlockList.check builds a SocketAddress per call (~2.5 µs); proxies' addresses repeat, so
  // verdicts are remembered, boundedly: a flood of new addresses only empties the memo.
  readonly #verdicts = new Map<string, boolean>();

  /** @throws CorralError `ERR_CORRAL_BAD_OPTION` when an entry is not what parseTrustProxy accepts. */
  constructor(entries: readonly string[]) {
    const networks = networksOf(entries);
    for (const n of networks) this.#blocks.addSubnet(n.address, n.prefix, n.family);
    this.size = networks.length;
  }

  /**
   * Whether `address` (IPv4 or IPv6 text, without brackets or port) lies in a trusted network.
   * Text that is not an IP address (`"unknown"`, `""`, `"fe80::1%eth0"`) is never trusted.
   */
  trusts(address: string): boolean {
    if (this.size === 0 || typeof address !== 'string') return false;
    let verdict = this.#verdicts.get(address);
    if (verdict === undefined) {
      const ip = ipText(address, 0, address.length);
      verdict = ip !== undefined && this.#blocks.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
      if (this.#verdicts.size >= MEMO_SIZE) this.#verdicts.clear();
      this.#verdicts.set(address, verdict);
    }
    return verdict;
  }
}

const MEMO_SIZE = 1024;

/**
 * The client behind trusted proxies, as Express's proxy-addr computes it. `peer` is where the
 * connection (or its PROXY header) came from; when it is not trusted, or `forwardedFor` holds no
 * entry, the answer is `peer`, as given. Otherwise X-Forwarded-For is walked from the right: the
 * first untrusted entry is the client; when every entry is trusted, the left-most one is.
 *
 * Entries are trimmed of spaces and tabs and may carry a port (`1.2.3.4:5678`,
 * `[2001:db8::1]:443`) or brackets, which are dropped; an unbracketed IPv6 address is never read
 * as having a port. Answers taken from the header are normalized: IPv6 as Node writes
 * `remoteAddress` (`2001:DB8:0::1` -> `2001:db8::1`), IPv4-mapped unwrapped to IPv4. Empty
 * entries (`"a,,b"`, what joining an empty header leaves) are skipped, as proxy-addr does. An
 * entry that is not an IP address (`unknown`, a bad port) ends the walk: the answer is the last
 * trusted hop, the one that forwarded it, never the garbage itself (proxy-addr would answer the
 * garbage).
 */
export function forwardedClient(peer: string, forwardedFor: string | undefined, trust: TrustList): string {
  if (forwardedFor === undefined || !trust.trusts(peer)) return peer;
  let client = peer;
  let end = forwardedFor.length;
  for (;;) {
    const comma = end > 0 ? forwardedFor.lastIndexOf(',', end - 1) : -1;
    const hop = hopOf(forwardedFor, comma + 1, end);
    if (hop === undefined) return client;
    if (hop !== '') {
      if (!trust.trusts(hop)) return hop;
      client = hop;
    }
    if (comma < 0) return client;
    end = comma;
  }
}

// --- parsing the option -------------------------------------------------------------------

const WORDS: ReadonlyMap<string, readonly Network[]> = new Map(
  Object.entries({
    loopback: ['127.0.0.0/8', '::1/128'],
    private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  }).map(([word, cidrs]) => [word, cidrs.map(known)]),
);

function known(cidr: string): Network {
  const n = networkOf(cidr);
  if (typeof n === 'string') throw new Error(n);
  return n;
}

function networksOf(value: unknown): Network[] {
  const seen = new Map<string, Network>();
  entriesOf(value).forEach((entry, i) => {
    if (entry === '') throw bad(`entry ${i + 1} is empty`, value);
    let networks = WORDS.get(entry.toLowerCase());
    if (networks === undefined) {
      const n = networkOf(entry);
      if (typeof n === 'string') throw bad(n, value);
      networks = [n];
    }
    for (const n of networks) if (!seen.has(n.text)) seen.set(n.text, n);
  });
  return [...seen.values()];
}

/** The trimmed entries of the whole value; a blank string or empty array has none. */
function entriesOf(value: unknown): string[] {
  if (value === undefined || (typeof value === 'string' && value.trim() === '')) return [];
  if (typeof value === 'string') return value.split(',').map((e) => e.trim());
  if (Array.isArray(value)) {
    const entries: string[] = [];
    (value as unknown[]).forEach((item, i) => {
      if (typeof item !== 'string') throw bad(`element ${i + 1} of the array is ${shown(item)}, not a string`, value);
      for (const e of item.split(',')) entries.push(e.trim());
    });
    return entries;
  }
  if (value === true) throw bad('true is not accepted: corral trusts only the networks you name (to trust every peer, write "0.0.0.0/0,::/0")', value);
  throw bad('not a string or an array of strings', value);
}

/** One address or CIDR as a {@link Network}, or what is wrong with it. */
function networkOf(entry: string): Network | string {
  const slash = entry.indexOf('/');
  const end = slash < 0 ? entry.length : slash;
  const v4 = v4Of(entry, 0, end);
  const v6 = v4 < 0 ? v6Of(entry, 0, end) : undefined;
  if (v4 < 0 && v6 === undefined) {
    const zone = entry.indexOf('%');
    if (zone >= 0) return `${shown(entry)} has a zone id (${shown(entry.slice(zone, end))}), which names an interface, not a network`;
    return `${shown(entry)} is not an IP address, a CIDR or one of the words "loopback", "private"`;
  }
  const bits = v6 === undefined ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > bits) {
    return `${shown(entry)} has prefix length ${shown(prefixText)}; for an ${v6 === undefined ? 'IPv4' : 'IPv6'} network it is a whole number from 0 to ${bits}`;
  }
  // A mapped network is IPv4's, and addresses are checked unwrapped: store it as IPv4.
  if (v6 !== undefined && prefix >= 96 && isMapped(v6)) return v4Network(v6[6]! * 0x10000 + v6[7]!, prefix - 96);
  if (v6 === undefined) return v4Network(v4, prefix);
  const address = v6Text(v6.map((g, k) => g & groupMask(prefix - 16 * k)));
  return { family: 'ipv6', address, prefix, text: `${address}/${prefix}` };
}

function v4Network(n: number, prefix: number): Network {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const address = v4Text((n & mask) >>> 0);
  return { family: 'ipv4', address, prefix, text: `${address}/${prefix}` };
}

/** The mask of a 16-bit group that has `bits` of the prefix (clamped to 0..16). */
function groupMask(bits: number): number {
  return bits >= 16 ? 0xffff : bits <= 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
}

function bad(problem: string, given: unknown): CorralError {
  return new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --trust-proxy (trustProxy): ${problem}; expected ${ACCEPTED}, got ${shown(given)}.`);
}

/** A value as the user gave it, for an error message: never throws (BigInt, cycles). */
function shown(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  } catch {
    // BigInt or a cycle: String below
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// --- reading addresses, per connection ------------------------------------------------------

/** One X-Forwarded-For entry in s[start, end): its address normalized, '' when blank, undefined when garbage. */
function hopOf(s: string, start: number, end: number): string | undefined {
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  if (start === end) return '';
  if (s.charCodeAt(start) === 0x5b /* [ */) {
    const close = indexIn(s, 0x5d /* ] */, start, end);
    if (close < 0 || (close + 1 < end && !(s.charCodeAt(close + 1) === COLON && isPort(s, close + 2, end)))) return undefined;
    const v6 = v6Of(s, start + 1, close);
    return v6 === undefined ? undefined : ipv6Answer(v6);
  }
  // An address first: unbracketed IPv6 never has a port, its last group cannot be told from one.
  const ip = ipText(s, start, end);
  if (ip !== undefined) return ip;
  const colon = indexIn(s, COLON, start, end);
  return colon > start && v4Of(s, start, colon) >= 0 && isPort(s, colon + 1, end) ? s.slice(start, colon) : undefined;
}

/** The address in s[start, end), normalized, or undefined when it is not one. */
function ipText(s: string, start: number, end: number): string | undefined {
  // The strict dotted quad (no leading zeros) is already the one spelling of its address.
  if (v4Of(s, start, end) >= 0) return s.slice(start, end);
  const v6 = v6Of(s, start, end);
  return v6 === undefined ? undefined : ipv6Answer(v6);
}

function ipv6Answer(groups: readonly number[]): string {
  return isMapped(groups) ? v4Text(groups[6]! * 0x10000 + groups[7]!) : v6Text(groups);
}

/** A strict dotted quad, as net.isIPv4 reads it, as a 32-bit number; -1 when it is not one. */
function v4Of(s: string, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1; // a leading zero: octal to some parsers
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return digits === 0 || dots !== 3 ? -1 : value * 256 + part;
}

/** IPv6 text as net.isIPv6 reads it, zone ids refused, as its eight 16-bit groups. */
function v6Of(s: string, start: number, end: number): number[] | undefined {
  const groups: number[] = [];
  let gap = -1; // where "::" stands, as an index into groups
  let i = start;
  if (end - start >= 2 && s.charCodeAt(i) === COLON && s.charCodeAt(i + 1) === COLON) {
    gap = 0;
    i += 2;
  } else if (i < end && s.charCodeAt(i) === COLON) {
    return undefined;
  }
  while (i < end) {
    const groupStart = i;
    let value = 0;
    for (let h = hexOf(s.charCodeAt(i)); h >= 0 && i - groupStart < 5; h = i < end ? hexOf(s.charCodeAt(i)) : -1) {
      value = value * 16 + h;
      i++;
    }
    if (i < end && s.charCodeAt(i) === DOT) {
      // A dotted quad may end the address, in the place of its last two groups.
      const v4 = v4Of(s, groupStart, end);
      if (v4 < 0 || groups.length > 6) return undefined;
      groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      break;
    }
    if (i === groupStart || i - groupStart > 4 || groups.length === 8) return undefined;
    groups.push(value);
    if (i === end) break;
    if (s.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < end && s.charCodeAt(i) === COLON) {
      if (gap >= 0) return undefined;
      gap = groups.length;
      i++;
    } else if (i === end) {
      return undefined;
    }
  }
  if (gap < 0) return groups.length === 8 ? groups : undefined;
  const missing = 8 - groups.length;
  if (missing < 1) return undefined;
  // Open the gap in place: cheaper than splice with a spread, this runs per connection.
  for (let k = groups.length - 1; k >= gap; k--) groups[k + missing] = groups[k]!;
  for (let k = gap; k < gap + missing; k++) groups[k] = 0;
  return groups;
}

function isMapped(g: readonly number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Eight groups written as libuv's inet_ntop writes them, so an address read from a header
 * matches the same client's `socket.remoteAddress`: lowercase, no leading zeros, the first
 * longest run of two or more zero groups as "::", and the last 32 bits dotted (`::1.2.3.4`) when
 * the first 96 are zero but the seventh group is not.
 */
function v6Text(g: readonly number[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0, run = 0; i < 8; i++) {
    run = g[i] === 0 ? run + 1 : 0;
    if (run > bestLen) {
      bestLen = run;
      best = i - run + 1;
    }
  }
  if (bestLen < 2) best = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) return out + v4Text(g[6]! * 0x10000 + g[7]!);
    out += g[i]!.toString(16);
  }
  return best >= 0 && best + bestLen === 8 ? out + ':' : out;
}

function hexOf(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** A port, 0 to 65535 in 1 to 5 digits, in s[start, end). */
function isPort(s: string, start: number, end: number): boolean {
  if (end <= start || end - start > 5) return false;
  let port = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
  }
  return port <= 65535;
}

/** HTTP's optional whitespace: space and tab. */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** indexOf bounded to [start, end), so a long header is not rescanned per entry. */
function indexIn(s: string, c: number, start: number, end: number): number {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === c) return i;
  return -1;
}

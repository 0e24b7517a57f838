import { CorralError, shown } from '../errors';
import { clearHostBits, ipText, isMapped, NetworkSet, readIP, scanIPv4, scanIPv6, type Network128 } from '../protocol/ip';

// `--trust-proxy`: which peers may say, in X-Forwarded-For, who the client is. The option is
// parsed once; trusts() and forwardedClient() run per connection, so addresses are read by
// ../protocol/ip's scanners into scratch groups, not by net.SocketAddress.

const COLON = 0x3a;
/** Most trusted X-Forwarded-For entries {@link forwardedClient} walks. */
const MAX_HOPS = 32;

const ACCEPTED =
  'a comma-separated string (or an array of strings) of IPv4/IPv6 addresses and CIDRs, e.g. "10.0.0.0/8" or "fd00::/8", ' +
  'and the words "loopback" and "private", e.g. "loopback,10.0.0.0/8"';

/** A trusted network, host bits cleared, IPv4 mapped (prefix out of 128). */
interface Network extends Network128 {
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

/** forwardedClient's way to a list's networks: it checks the groups it has read, not text. */
let networksOfList: (list: TrustList) => NetworkSet;

/**
 * The trusted networks, built once from {@link parseTrustProxy}'s output, answering "may this
 * peer speak for the client?" per connection, as node:net's `BlockList` would: an IPv4-mapped
 * address (`::ffff:10.0.0.1`) is checked as the IPv4 address it is, so `10.0.0.0/8` covers it,
 * and an IPv6 network holding `::ffff:0:0/96` (such as `::/0`) covers every IPv4 address.
 */
export class TrustList {
  /** How many distinct networks are trusted; 0 means every answer is "no". */
  readonly size: number;
  // Answers are not remembered: a check costs ~0.1 µs, new address or not, and a Map of
  // answers measured ~0.06 µs faster on a repeat but ~0.13 µs slower on every new address.
  readonly #networks: NetworkSet;

  /** @throws CorralError `ERR_CORRAL_BAD_OPTION` when an entry is not what parseTrustProxy accepts. */
  constructor(entries: readonly string[]) {
    const networks = networksOf(entries);
    this.#networks = new NetworkSet(networks);
    this.size = networks.length;
  }

  static {
    networksOfList = (list) => list.#networks;
  }

  /**
   * Whether `address` (IPv4 or IPv6 text, without brackets or port) lies in a trusted network.
   * Text that is not an IP address (`"unknown"`, `""`, `"fe80::1%eth0"`) is never trusted.
   */
  trusts(address: string): boolean {
    if (this.size === 0 || typeof address !== 'string') return false;
    return readIP(address, 0, address.length, SCRATCH) !== 0 && this.#networks.has(SCRATCH);
  }
}

// Scratch groups: every use is synchronous and done before its function returns.
const SCRATCH = new Uint16Array(8);
const CLIENT = new Uint16Array(8);

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
 *
 * At most 32 trusted entries are walked: a client behind up to 32 trusted hops is found, and
 * when the entry left of the 32nd is trusted too, the answer is the 32nd, the last trusted hop
 * walked. No real chain has 32 proxies, and the bound keeps a header of hundreds of entries in
 * a trusted range (which the client can write left of the real ones) from costing the primary
 * milliseconds.
 */
export function forwardedClient(peer: string, forwardedFor: string | undefined, trust: TrustList): string {
  if (forwardedFor === undefined || !trust.trusts(peer)) return peer;
  const networks = networksOfList(trust);
  let hops = 0; // trusted entries walked; the client is the last of them (in CLIENT), or the peer
  let end = forwardedFor.length;
  for (;;) {
    const comma = commaBefore(forwardedFor, end);
    const hop = hopOf(forwardedFor, comma + 1, end, SCRATCH);
    if (hop === GARBAGE) break;
    if (hop !== BLANK) {
      if (!networks.has(SCRATCH)) return ipText(SCRATCH);
      if (hops === MAX_HOPS) break;
      CLIENT.set(SCRATCH);
      hops++;
    }
    if (comma < 0) break;
    end = comma;
  }
  return hops === 0 ? peer : ipText(CLIENT);
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
  const groups = new Uint16Array(8);
  const family = readIP(entry, 0, end, groups);
  if (family === 0) {
    const zone = entry.indexOf('%');
    if (zone >= 0) return `${shown(entry)} has a zone id (${shown(entry.slice(zone, end))}), which names an interface, not a network`;
    return `${shown(entry)} is not an IP address, a CIDR or one of the words "loopback", "private"`;
  }
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : entry.slice(slash + 1);
  const given = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
  if (given < 0 || given > bits) {
    return `${shown(entry)} has prefix length ${shown(prefixText)}; for an IPv${family} network it is a whole number from 0 to ${bits}`;
  }
  const prefix = family === 4 ? given + 96 : given;
  clearHostBits(groups, prefix);
  // A mapped network (only a prefix of 96 or more keeps ::ffff) is IPv4's, and written so.
  const text = `${ipText(groups)}/${isMapped(groups) ? prefix - 96 : prefix}`;
  return { groups, prefix, text };
}

function bad(problem: string, given: unknown): CorralError {
  return new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --trust-proxy (trustProxy): ${problem}; expected ${ACCEPTED}, got ${shown(given)}.`);
}

// --- reading addresses, per connection ------------------------------------------------------

// What hopOf found besides an address (whose family, 4 or 6, it answers otherwise).
const GARBAGE = 0;
const BLANK = -1;

/**
 * One X-Forwarded-For entry in s[start, end): 4 or 6 when it is an address (its groups, IPv4
 * mapped, written to `groups`), BLANK when blank, GARBAGE otherwise.
 */
function hopOf(s: string, start: number, end: number, groups: Uint16Array): number {
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  if (start === end) return BLANK;
  if (s.charCodeAt(start) === 0x5b /* [ */) {
    const close = indexIn(s, 0x5d /* ] */, start, end);
    if (close < 0 || (close + 1 < end && !(s.charCodeAt(close + 1) === COLON && isPort(s, close + 2, end)))) return GARBAGE;
    return scanIPv6(s, start + 1, close, groups) === close ? 6 : GARBAGE;
  }
  // An address first: unbracketed IPv6 never has a port, its last group cannot be told from one.
  const family = readIP(s, start, end, groups);
  if (family !== 0) return family;
  const stop = scanIPv4(s, start, end, groups);
  return stop > start && s.charCodeAt(stop) === COLON && isPort(s, stop + 1, end) ? 4 : GARBAGE;
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

/**
 * The last ',' in s[0, end), or -1: lastIndexOf without its call cost (~30 ns, which a header
 * of thousands of empty entries would pay per entry).
 */
function commaBefore(s: string, end: number): number {
  let i = end - 1;
  while (i >= 0 && s.charCodeAt(i) !== 0x2c) i--;
  return i;
}

/** indexOf bounded to [start, end), so a long header is not rescanned per entry. */
function indexIn(s: string, c: number, start: number, end: number): number {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === c) return i;
  return -1;
}

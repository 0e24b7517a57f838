import { isIPv4, isIPv6 } from 'node:net';

/** How an address was written: a balancer needs brackets around IPv6 and resolves names itself. */
export type AddressKind = 'ipv4' | 'ipv6' | 'name';

/** A TCP endpoint as a balancer config names it. */
export interface Endpoint {
  /** IPv4 dotted quad, IPv6 without brackets (lowercased), or a DNS name (lowercased). */
  readonly address: string;
  readonly kind: AddressKind;
  readonly port: number;
}

/** What went wrong with an `ADDR:PORT`; the caller puts it into an option's error message. */
export class AddressError extends Error {}

// One DNS label: letters, digits, '-' inside, 1 to 63 characters (RFC 1123).
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Parse `ADDR:PORT`: an IPv4 address, a bracketed IPv6 address (`[fd00::1]:3000`) or, when
 * `allowNames`, a DNS name. Throws {@link AddressError} saying what is wrong.
 */
export function parseEndpoint(text: string, allowNames: boolean): Endpoint {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new AddressError(`"${text}" opens "[" but never closes it`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(':')) throw new AddressError(`"${text}" has no ":PORT" after the address`);
    portText = rest.slice(1);
    if (!isIPv6(host) || host.includes('%')) throw new AddressError(`"[${host}]" is not an IPv6 address (zone ids like %eth0 are not accepted)`);
    // One spelling per address (0:0::1 is ::1), so duplicates are found and configs read alike.
    return { address: new URL(`http://[${host}]/`).hostname.slice(1, -1), kind: 'ipv6', port: portOf(portText) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new AddressError(`"${text}" has no ":PORT"`);
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  if (host.includes(':')) {
    // Without brackets, an IPv6 address's last group cannot be told from a port.
    throw new AddressError(`"${text}" looks like an IPv6 address without brackets; write [ADDRESS]:PORT, e.g. [${host}]:${portText === '' ? 'PORT' : portText}`);
  }
  if (host === '') throw new AddressError(`"${text}" has no address before ":"`);
  const port = portOf(portText);
  if (isIPv4(host)) return { address: host, kind: 'ipv4', port };
  const name = host.toLowerCase();
  const labels = name.split('.');
  // A name whose last label is all digits would be read as a (bad) IPv4 address by resolvers.
  if (/^\d+$/.test(labels[labels.length - 1]!)) throw new AddressError(`"${host}" is not an IPv4 address`);
  if (!allowNames) throw new AddressError(`"${host}" is not an IPv4 address or a bracketed IPv6 address`);
  if (name.length > 253 || !labels.every((l) => LABEL.test(l))) {
    throw new AddressError(`"${host}" is not an IPv4 address, a bracketed IPv6 address or a DNS name (letters, digits, "-" and ".")`);
  }
  return { address: name, kind: 'name', port };
}

/** Parse a port from 1 to 65535, or throw {@link AddressError}. */
export function portOf(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new AddressError(text === '' ? 'the port is missing' : `port "${text}" is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new AddressError(`port ${port} is not from 1 to 65535`);
  return port;
}

/** `ADDR:PORT` as nginx and HAProxy both read it: IPv6 in brackets. */
export function formatEndpoint(address: string, kind: AddressKind, port: number): string {
  return `${kind === 'ipv6' ? `[${address}]` : address}:${port}`;
}

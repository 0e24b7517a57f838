import { CorralError } from '../errors';
import { HOST_ID_PATTERN } from '../protocol/sid';
import { AddressError, formatEndpoint, parseEndpoint, portOf, type AddressKind } from './address';

/** One host running corral, as the front balancer sees it. */
export interface LbHost {
  /** The host id corral writes at the start of every sid it issues (`corral start --host-id`). */
  readonly id: string;
  readonly address: string;
  readonly kind: AddressKind;
  /** corral's public port on that host. */
  readonly port: number;
}

/** Where the balancer listens; no address means every IPv4 interface. */
export interface LbListen {
  readonly address: string | undefined;
  readonly kind: AddressKind;
  readonly port: number;
}

/** `corral start --slot-ports BASE` on every host: worker slot `i` is served on `base + i`. */
export interface LbSlotPorts {
  readonly base: number;
  readonly workers: number;
}

/** Everything a balancer config is made from, validated once. Nothing downstream re-checks it. */
export interface LbPlan {
  readonly hosts: readonly LbHost[];
  readonly listen: LbListen;
  readonly slotPorts: LbSlotPorts | undefined;
  /** HAProxy sends a PROXY v2 header on every server connection (corral runs with --proxy-protocol). */
  readonly proxyProtocol: boolean;
}

/** What a user gives `corral lb-config`: the flags, as strings. */
export interface LbInput {
  hosts?: string | undefined;
  listen?: string | undefined;
  slotPorts?: string | undefined;
  workers?: string | undefined;
  /** Default true: `--no-proxy-protocol` turns it off. */
  proxyProtocol?: boolean | undefined;
}

/** Most worker slots per host, as `corral start --workers`. */
export const MAX_WORKERS = 1024;

const HOSTS_FORM = 'ID=ADDR:PORT[,ID=ADDR:PORT...], where ID is the host id corral runs with (--host-id: lowercase letters, digits and "-", 1 to 63, no "-" at either end), ADDR an IPv4 address, a bracketed IPv6 address or a DNS name, and PORT its corral public port; e.g. --hosts web-1=10.0.0.11:3000,web-2=[fd00::12]:3000';
const LISTEN_FORM = '[ADDR:]PORT, with ADDR an IPv4 address or a bracketed IPv6 address and PORT from 1 to 65535; e.g. --listen 80 or --listen 127.0.0.1:8080';

/** Turn the flags into a frozen {@link LbPlan}, or throw `ERR_CORRAL_BAD_OPTION` naming the flag and the bad value. */
export function resolveLbPlan(input: LbInput): Readonly<LbPlan> {
  const hosts = hostsOf(input.hosts);
  const listen = listenOf(input.listen);
  const slotPorts = slotPortsOf(input.slotPorts, input.workers);
  if (slotPorts !== undefined) checkSlotPorts(hosts, slotPorts);
  for (const host of hosts) {
    for (const port of upstreamPorts(host, slotPorts)) {
      if (listen.address !== undefined && listen.address === host.address && listen.port === port) {
        throw bad('listen', `${formatEndpoint(host.address, host.kind, port)} is where host ${host.id} serves; the balancer would send requests to itself`);
      }
    }
  }
  return Object.freeze({ hosts: Object.freeze(hosts), listen, slotPorts, proxyProtocol: input.proxyProtocol !== false });
}

/** The ports the balancer connects to on a host: its public port, or all its slot ports. */
export function upstreamPorts(host: LbHost, slotPorts: LbSlotPorts | undefined): number[] {
  if (slotPorts === undefined) return [host.port];
  return Array.from({ length: slotPorts.workers }, (_, slot) => slotPorts.base + slot);
}

function hostsOf(text: string | undefined): LbHost[] {
  if (text === undefined || text.trim() === '') throw bad('hosts', `missing; expected ${HOSTS_FORM}`);
  const entries = text.split(',').map((e) => e.trim());
  const hosts: LbHost[] = [];
  entries.forEach((entry, i) => {
    if (entry === '') throw bad('hosts', `entry ${i + 1} of ${JSON.stringify(text)} is empty; expected ${HOSTS_FORM}`);
    const eq = entry.indexOf('=');
    if (eq < 0) throw badEntry(entry, 'has no "=" between host id and address');
    const id = entry.slice(0, eq);
    // The rule corral start's --host-id follows, so an id corral never issues is caught here.
    if (!HOST_ID_PATTERN.test(id)) throw badEntry(entry, `has a host id ${JSON.stringify(id)} that corral never issues`);
    let endpoint;
    try {
      endpoint = parseEndpoint(entry.slice(eq + 1), true);
    } catch (err) {
      if (err instanceof AddressError) throw badEntry(entry, `has a bad address: ${err.message}`);
      throw err;
    }
    const host: LbHost = Object.freeze({ id, ...endpoint });
    const twin = hosts.find((h) => h.id === id);
    if (twin) throw badEntry(entry, `repeats host id "${id}"; each host needs its own id, or its sessions cannot be told apart`);
    const same = hosts.find((h) => h.address === host.address && h.port === host.port);
    if (same) throw badEntry(entry, `has the address of host "${same.id}" (${formatEndpoint(host.address, host.kind, host.port)}); two ids cannot share one corral`);
    hosts.push(host);
  });
  return hosts;
}

function listenOf(text: string | undefined): LbListen {
  if (text === undefined) return { address: undefined, kind: 'ipv4', port: 80 };
  try {
    if (/^\d+$/.test(text)) return { address: undefined, kind: 'ipv4', port: portOf(text) };
    const endpoint = parseEndpoint(text, false);
    return { address: endpoint.address, kind: endpoint.kind, port: endpoint.port };
  } catch (err) {
    if (err instanceof AddressError) throw bad('listen', `${err.message}; expected ${LISTEN_FORM}, got ${JSON.stringify(text)}`);
    throw err;
  }
}

function slotPortsOf(base: string | undefined, workers: string | undefined): LbSlotPorts | undefined {
  if (base === undefined && workers === undefined) return undefined;
  if (base === undefined) throw bad('workers', `only means something with --slot-ports BASE (the BASE port each host's corral was started with); got --workers ${JSON.stringify(workers)} alone`);
  if (workers === undefined) throw bad('slot-ports', `needs --workers N, the number of worker slots on each host (1 to ${MAX_WORKERS}), to know which ports BASE+0..BASE+N-1 exist; got --slot-ports ${JSON.stringify(base)} alone`);
  if (!/^\d{1,5}$/.test(base) || Number(base) < 1 || Number(base) > 65535) throw bad('slot-ports', `expected the BASE port of corral's --slot-ports, from 1 to 65535, got ${JSON.stringify(base)}`);
  if (!/^\d{1,4}$/.test(workers) || Number(workers) < 1 || Number(workers) > MAX_WORKERS) throw bad('workers', `expected the number of worker slots on each host, a whole number from 1 to ${MAX_WORKERS}, got ${JSON.stringify(workers)}`);
  const slotPorts = { base: Number(base), workers: Number(workers) };
  const last = slotPorts.base + slotPorts.workers - 1;
  if (last > 65535) throw bad('slot-ports', `BASE ${slotPorts.base} with --workers ${slotPorts.workers} needs ports up to ${last}, past 65535; choose a BASE of at most ${65536 - slotPorts.workers}`);
  return Object.freeze(slotPorts);
}

function checkSlotPorts(hosts: readonly LbHost[], slotPorts: LbSlotPorts): void {
  const last = slotPorts.base + slotPorts.workers - 1;
  const range = `${slotPorts.base}-${last}`;
  hosts.forEach((host, i) => {
    // Slot ports live on the host's address, so two hosts on one address would claim the same ports.
    const twin = hosts.slice(0, i).find((h) => h.address === host.address);
    if (twin) throw bad('slot-ports', `hosts "${twin.id}" and "${host.id}" share the address ${host.address}, so their slot ports ${range} would be the same; with --slot-ports each host needs its own address`);
    if (host.port >= slotPorts.base && host.port <= last) throw bad('slot-ports', `the slot ports ${range} include host "${host.id}"'s public port ${host.port} (--hosts); corral cannot serve both on one port`);
  });
}

function badEntry(entry: string, why: string): CorralError {
  return bad('hosts', `entry ${JSON.stringify(entry)} ${why}; expected ${HOSTS_FORM}`);
}

function bad(flag: string, message: string): CorralError {
  return new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --${flag}: ${message}.`);
}

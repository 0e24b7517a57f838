import { formatEndpoint } from './address';
import type { LbHost, LbPlan } from './hosts';

/** One server line of a balancer config. */
export interface LbServer {
  /** Unique within the config: the host id, plus `_slot_<n>` with slot ports. */
  readonly name: string;
  readonly host: LbHost;
  /** The worker slot this port serves, or undefined for the host's public port. */
  readonly slot: number | undefined;
  readonly port: number;
  /** `ADDR:PORT`, IPv6 in brackets. */
  readonly endpoint: string;
}

/** Requests whose sid starts with `prefix` go to `servers`, and nowhere else. */
export interface LbRoute {
  /** Name of the upstream block (nginx) or backend (HAProxy). */
  readonly backend: string;
  /** The sid prefix, e.g. `h1.` or, with slot ports, `h1.a.` (slot 10, base36 as corral writes it). */
  readonly prefix: string;
  readonly host: LbHost;
  readonly slot: number | undefined;
  readonly servers: readonly LbServer[];
}

/** The routing table both generators print, in match order. */
export interface LbRoutes {
  /**
   * First match wins: with slot ports, a host's slot routes come before its catch-all. Hosts may
   * come in any order, since a prefix ends with the `.` after the host id (`h1.` never matches `h10.`).
   */
  readonly routes: readonly LbRoute[];
  /** Handshakes, non-Engine.IO requests and unknown sids: least connections over these. */
  readonly balanced: readonly LbServer[];
}

/** Name of the balanced group; host ids never contain `_`, so no host's backend can clash with it. */
export const BALANCED = 'corral_all';

/**
 * Engine.IO handshakes without slot ports: the balanced servers again, but over a fresh
 * connection each. A host's primary picks the least-loaded worker per *connection*; over a
 * pooled keep-alive connection a handshake would land on whichever worker owns it (balancers
 * reuse the most recently used connection), and whole hosts' sessions ended up on one worker.
 */
export const HANDSHAKE = 'corral_handshake';

/**
 * Work out who serves what. Without slot ports: one route per host to its public port. With slot
 * ports: one route per (host, slot) to that slot's port, then one per host over all its slot
 * ports, for a sid naming a slot beyond `--workers` (the host still owns that session and its
 * workers forward it), and the public ports are not used at all.
 */
export function routesOf(plan: LbPlan): LbRoutes {
  const routes: LbRoute[] = [];
  const balanced: LbServer[] = [];
  for (const host of plan.hosts) {
    const backend = `corral_host_${host.id}`;
    if (plan.slotPorts === undefined) {
      const server = serverOf(host, undefined, host.port);
      balanced.push(server);
      routes.push({ backend, prefix: `${host.id}.`, host, slot: undefined, servers: [server] });
      continue;
    }
    const servers: LbServer[] = [];
    for (let slot = 0; slot < plan.slotPorts.workers; slot++) {
      const server = serverOf(host, slot, plan.slotPorts.base + slot);
      servers.push(server);
      routes.push({ backend: `${backend}_slot_${slot}`, prefix: `${host.id}.${slot.toString(36)}.`, host, slot, servers: [server] });
    }
    balanced.push(...servers);
    routes.push({ backend, prefix: `${host.id}.`, host, slot: undefined, servers });
  }
  return { routes, balanced };
}

function serverOf(host: LbHost, slot: number | undefined, port: number): LbServer {
  return {
    name: slot === undefined ? host.id : `${host.id}_slot_${slot}`,
    host,
    slot,
    port,
    endpoint: formatEndpoint(host.address, host.kind, port),
  };
}

/** The `corral lb-config` command line that reproduces a plan, for the config's header. */
export function commandOf(balancer: string, plan: LbPlan): string {
  const hosts = plan.hosts.map((h) => `${h.id}=${formatEndpoint(h.address, h.kind, h.port)}`).join(',');
  const listen = plan.listen.address === undefined ? String(plan.listen.port) : formatEndpoint(plan.listen.address, plan.listen.kind, plan.listen.port);
  const slots = plan.slotPorts === undefined ? '' : ` --slot-ports ${plan.slotPorts.base} --workers ${plan.slotPorts.workers}`;
  const proxy = balancer === 'haproxy' && !plan.proxyProtocol ? ' --no-proxy-protocol' : '';
  return `corral lb-config ${balancer} --hosts ${hosts} --listen ${listen}${slots}${proxy}`;
}

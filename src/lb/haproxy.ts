import { formatEndpoint } from './address';
import type { LbPlan } from './hosts';
import { BALANCED, commandOf, HANDSHAKE, routesOf, type LbRoute } from './routes';

/**
 * A complete HAProxy configuration (tested with HAProxy 2.6) that routes every Engine.IO request
 * by the host (and slot) prefix of its `sid` and balances the rest by least connections.
 * It runs as is with `haproxy -f FILE`: no chroot, user, pid file or socket path in it.
 */
export function haproxyConfig(plan: LbPlan): string {
  const { routes, balanced } = routesOf(plan);
  const bind = plan.listen.address === undefined ? `:${plan.listen.port}` : formatEndpoint(plan.listen.address, plan.listen.kind, plan.listen.port);
  const acl = (r: LbRoute): string => (r.slot === undefined ? `sid_${r.host.id}` : `sid_${r.host.id}_slot_${r.slot}`);
  const aclWidth = Math.max(...routes.map((r) => acl(r).length)) + 1;
  // With slot ports the balancer picks the worker itself (its port): pooled connections are fine.
  const handshakes = plan.slotPorts === undefined;
  const checked = (name: string, endpoint: string): string => `    server ${name} ${endpoint} check observe layer4 error-limit 1 on-error mark-down`;
  const out: string[] = [
    `# HAProxy front balancer for corral, written by:`,
    `#   ${commandOf('haproxy', plan)}`,
    `# Run it as is with \`haproxy -f FILE\` (add -db to keep it in the foreground); check it with`,
    `# \`haproxy -c -f FILE\`. When a host joins or leaves, run the command above again.`,
    `#`,
    `# corral starts every Engine.IO session id with the id of the host that issued it (and the`,
    `# worker slot): sid=h1.0.q0UfbB8Nu8ft3pWZVAFy. Routing on that prefix sends every request of a`,
    `# session to its host from the first request after the handshake on. \`balance url_param sid\``,
    `# cannot: the handshake has no sid, so it lands on one host and the next request on any other.`,
    ``,
    `global`,
    `    # Logs go to stderr; point them at syslog (log /dev/log local0) for a system service, and`,
    `    # add chroot, user and daemon there. None is needed to run as is.`,
    `    log stderr format raw local0 info`,
    ``,
    `defaults`,
    `    mode http`,
    `    log global`,
    `    option httplog`,
    `    option dontlognull`,
    `    timeout connect 5s`,
    `    # Above Engine.IO's pingInterval + pingTimeout (25 s + 20 s by default): a long-poll is`,
    `    # held up to pingInterval.`,
    `    timeout client 75s`,
    `    timeout server 75s`,
    `    # An upgraded WebSocket: Socket.IO pings every pingInterval, so this only ends other`,
    `    # WebSockets of the app that stay silent for an hour.`,
    `    timeout tunnel 1h`,
    `    timeout client-fin 30s`,
    `    timeout http-request 10s`,
    `    timeout http-keep-alive 10s`,
    `    timeout queue 10s`,
    `    # The client's address for the app, appended to any X-Forwarded-For it sent (the last`,
    `    # entry is the one HAProxy saw).`,
    `    option forwardfor`,
    `    # Idle server connections are shared between clients, but a client's first request never`,
    `    # goes over one that might be closing. Without --slot-ports such a connection belongs to one`,
    `    # worker of its host, which forwards other workers' sessions locally.`,
    `    http-reuse safe`,
    `    # A refused connection is retried on another server of the backend (every retry`,
    `    # redispatches). Only connection failures are retried: nothing reached the app. Adding 503`,
    `    # (corral's answer when none of a host's workers is ready) is safe only if the app itself`,
    `    # never answers 503 to a request that must not be replayed.`,
    `    retries 3`,
    `    option redispatch 1`,
    `    retry-on conn-failure`,
    `    # Health checks (a TCP connect every 2 s): two failures take a server out of new sessions,`,
    `    # two successes bring it back.`,
    ...(plan.proxyProtocol
      ? [
          `    # send-proxy-v2: every server connection (health checks too) starts with a PROXY v2`,
          `    # header naming the client, so the app sees the client's address as the socket's and`,
          `    # --sticky ip routes by it. A server connection is reused only by requests with the same`,
          `    # PROXY block, so the header holds for every request on it. Run each corral with`,
          `    #   --proxy-protocol --trust-proxy <this balancer's address>`,
          `    # (print this config with --no-proxy-protocol for a corral without it).`,
          `    default-server inter 2s fall 2 rise 2 send-proxy-v2`,
        ]
      : [
          `    # No PROXY header (--no-proxy-protocol): corral sees this balancer as the client. Run it`,
          `    # with --trust-proxy <this balancer's address> to route --sticky ip by X-Forwarded-For.`,
          `    default-server inter 2s fall 2 rise 2`,
        ]),
    ``,
    `frontend corral`,
    `    bind ${bind}`,
    ...(plan.listen.address === undefined ? [`    # every IPv4 interface; use \`bind :::${plan.listen.port} v4v6\` for IPv6 too.`] : []),
    `    http-request set-header X-Forwarded-Proto https if { ssl_fc }`,
    `    http-request set-header X-Forwarded-Proto http unless { ssl_fc }`,
    `    # urlp(sid) is the sid query parameter as sent (a corral sid is URL-safe). Rules are tried`,
    `    # in order and the first match wins; a handshake (no sid) or a sid no host here issued`,
    `    # goes to the default backend.`,
    ...routes.map((r) => `    acl ${acl(r).padEnd(aclWidth)}urlp(sid) -m beg ${r.prefix}`),
    ...routes.map((r) => `    use_backend ${r.backend} if ${acl(r)}`),
    ...(handshakes
      ? [
          `    # An Engine.IO handshake (EIO, no sid of ours): ${HANDSHAKE}, over a fresh connection.`,
          `    acl handshake urlp(EIO) -m found`,
          `    use_backend ${HANDSHAKE} if handshake`,
        ]
      : []),
    `    default_backend ${BALANCED}`,
    ``,
    `# Handshakes and every request without a sid of ours: least connections over ${plan.slotPorts ? 'every worker slot of every host' : 'every host'}.`,
    `backend ${BALANCED}`,
    `    balance leastconn`,
    `    # observe: a refused connection takes the server out at once, without waiting for two`,
    `    # failed checks, so the retries above do not pick it again.`,
    ...balanced.map((s) => checked(s.name, s.endpoint)),
    ...(handshakes
      ? [
          ``,
          `# Handshakes, each over a fresh server connection (closed after the answer, never shared): the`,
          `# host's primary then gives the new session to its least-loaded worker. Over a reused`,
          `# connection it would land on whichever worker owns that connection.`,
          `backend ${HANDSHAKE}`,
          `    balance leastconn`,
          `    option http-server-close`,
          `    http-reuse never`,
          ...balanced.map((s) => checked(s.name, s.endpoint)),
        ]
      : []),
    ``,
    `# The backends below have no health checks on purpose: a session lives on its host only, so a`,
    `# request of it has nowhere else to go. If the host is down it fails (503), and the client`,
    `# starts a new session with a handshake, which corral_all sends to a live host.`,
    ...routes.flatMap((r) => backend(r)),
    ``,
  ];
  return out.join('\n');
}

function backend(route: LbRoute): string[] {
  const who = route.slot === undefined ? `host ${route.host.id}` : `host ${route.host.id}, slot ${route.slot}`;
  const why = route.slot === undefined && route.servers.length > 1
    ? `# A sid of host ${route.host.id} naming a slot beyond --workers: any of its ports; its workers forward it.`
    : `# Sessions issued by ${who} (sids starting ${route.prefix}) live there only.`;
  return [
    ``,
    why,
    `backend ${route.backend}`,
    ...(route.servers.length > 1 ? [`    balance leastconn`] : []),
    ...route.servers.map((s) => `    server ${s.name} ${s.endpoint}`),
  ];
}

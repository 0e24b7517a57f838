import { formatEndpoint } from './address';
import type { LbPlan } from './hosts';
import { BALANCED, commandOf, HANDSHAKE, routesOf, type LbRoute } from './routes';

/** Idle upstream connections nginx keeps per worker process: for the balanced group, and per route. */
const KEEPALIVE_ALL = 64;
const KEEPALIVE_ROUTE = 16;

/**
 * A complete nginx configuration (tested with nginx 1.22) that routes every Engine.IO request
 * by the host (and slot) prefix of its `sid` and balances the rest by least connections.
 * It runs as is with `nginx -p DIR -c FILE`: every path in it is relative to DIR.
 */
export function nginxConfig(plan: LbPlan): string {
  const { routes, balanced } = routesOf(plan);
  const listen = plan.listen.address === undefined ? String(plan.listen.port) : formatEndpoint(plan.listen.address, plan.listen.kind, plan.listen.port);
  const width = Math.max(...routes.map((r) => r.prefix.length)) + 6;
  // With slot ports the balancer picks the worker itself (its port): pooled connections are fine.
  const handshakes = plan.slotPorts === undefined;
  const out: string[] = [
    `# nginx front balancer for corral, written by:`,
    `#   ${commandOf('nginx', plan)}`,
    `# Run it as is with \`nginx -p DIR -c FILE\` (DIR: a directory nginx may write; its pid file and`,
    `# temp files go there; add -g 'daemon off;' to keep it in the foreground). Check it with`,
    `# \`nginx -t -p DIR -c FILE\`. When a host joins or leaves, run the command above again.`,
    `#`,
    `# corral starts every Engine.IO session id with the id of the host that issued it (and the`,
    `# worker slot): sid=h1.0.q0UfbB8Nu8ft3pWZVAFy. Routing on that prefix sends every request of a`,
    `# session to its host from the first request after the handshake on. \`hash $arg_sid\` cannot:`,
    `# the handshake has no sid, so it lands on one host and the next request on any other.`,
    ``,
    `worker_processes auto;`,
    `# Relative paths resolve against DIR, so nothing is written outside it.`,
    `pid corral-nginx.pid;`,
    `error_log stderr warn;`,
    `# Run as root, nginx starts its workers as "nobody"; add \`user NAME;\` to choose another.`,
    ``,
    `events {`,
    `    worker_connections 4096;`,
    `}`,
    ``,
    `http {`,
    `    # No access log by default; add \`access_log FILE;\` (relative to DIR) to keep one.`,
    `    access_log off;`,
    `    server_tokens off;`,
    `    client_body_temp_path client_body_temp;`,
    `    proxy_temp_path proxy_temp;`,
    `    fastcgi_temp_path fastcgi_temp;`,
    `    uwsgi_temp_path uwsgi_temp;`,
    `    scgi_temp_path scgi_temp;`,
    ``,
    `    # Which upstream block serves a request. Regexes are tried in order and the first match`,
    `    # wins; a handshake (no sid) or a sid no host here issued goes to ${handshakes ? `${HANDSHAKE} or ${BALANCED}` : BALANCED}.`,
    `    # A corral sid is URL-safe (host id, base36 slot, base64url), so $arg_sid needs no decoding.`,
    `    map $arg_sid $corral_upstream {`,
    ...routes.map((r) => `        ${`~^${r.prefix.replace(/\./g, '\\.')}`.padEnd(width)}${r.backend};`),
    `        ${'default'.padEnd(width)}${handshakes ? '$corral_unrouted' : BALANCED};`,
    `    }`,
    ...(handshakes
      ? [
          ``,
          `    # An Engine.IO handshake (EIO in the query, no sid yet) goes to ${HANDSHAKE}, over a fresh`,
          `    # connection: the host's primary then gives the new session to its least-loaded worker. Over`,
          `    # a pooled connection it would land on whichever worker owns that connection. Anything else`,
          `    # goes to ${BALANCED}, over pooled connections.`,
          `    map $arg_EIO $corral_unrouted {`,
          `        ''      ${BALANCED};`,
          `        default ${HANDSHAKE};`,
          `    }`,
        ]
      : []),
    ``,
    `    # A WebSocket upgrade passes Upgrade and "Connection: upgrade" on; any other request sends an`,
    `    # empty Connection header, so the upstream connection stays open for the next request`,
    `    # (nginx would otherwise send "Connection: close").`,
    `    map $http_upgrade $corral_connection {`,
    `        default upgrade;`,
    `        ''      '';`,
    `    }`,
    ``,
    `    # Handshakes and every request without a sid of ours: least connections over ${plan.slotPorts ? 'every worker slot of every host' : 'every host'}.`,
    `    # The zone shares connection counts and failures among nginx's worker processes.`,
    `    # max_fails/fail_timeout: a ${plan.slotPorts ? 'port' : 'host'} that refuses or times out is left out of new sessions`,
    `    # for 10 s (proxy_next_upstream below retries the request elsewhere).`,
    `    upstream ${BALANCED} {`,
    `        zone ${BALANCED} 64k;`,
    `        least_conn;`,
    ...balanced.map((s) => `        server ${s.endpoint} max_fails=1 fail_timeout=10s;  # ${s.slot === undefined ? s.name : `host ${s.host.id}, slot ${s.slot}`}`),
    ...keepalive(KEEPALIVE_ALL, true),
    `    }`,
    ...(handshakes
      ? [
          ``,
          `    # The same servers for handshakes, and no keepalive: one fresh connection per handshake.`,
          `    upstream ${HANDSHAKE} {`,
          `        zone ${HANDSHAKE} 64k;`,
          `        least_conn;`,
          ...balanced.map((s) => `        server ${s.endpoint} max_fails=1 fail_timeout=10s;  # ${s.name}`),
          `    }`,
        ]
      : []),
    ...routes.flatMap((r) => upstream(r)),
    ``,
    `    server {`,
    `        listen ${listen};`,
    ...(plan.listen.address === undefined ? [`        # every IPv4 interface; add \`listen [::]:${plan.listen.port};\` for IPv6.`] : []),
    ``,
    `        # Above Engine.IO's pingInterval + pingTimeout (25 s + 20 s by default): a long-poll is`,
    `        # held up to pingInterval, and a quiet WebSocket carries a ping every pingInterval.`,
    `        keepalive_timeout 75s;`,
    `        send_timeout 75s;`,
    `        client_body_timeout 75s;`,
    `        client_header_timeout 10s;`,
    `        # nginx's default body limit, 1m, fits Engine.IO's default maxHttpBufferSize (1e6 bytes);`,
    `        # raise both together.`,
    `        client_max_body_size 1m;`,
    ``,
    `        location / {`,
    `            # The name of an upstream block above, so no resolver is needed.`,
    `            proxy_pass http://$corral_upstream;`,
    `            proxy_http_version 1.1;`,
    `            proxy_set_header Upgrade $http_upgrade;`,
    `            proxy_set_header Connection $corral_connection;`,
    `            # The Host the client sent, port included (with a variable in proxy_pass, nginx would`,
    `            # send the upstream block's name).`,
    `            proxy_set_header Host $http_host;`,
    `            # The client's address for the app. The last entry is the peer nginx saw; earlier`,
    `            # ones come from the client and may be forged (use $remote_addr if nginx is the edge).`,
    `            # nginx's http proxy cannot send the PROXY protocol: use the HAProxy config for that.`,
    `            # The client's address, appended to any X-Forwarded-For it sent. nginx's http proxy`,
    `            # cannot send the PROXY protocol: run each corral with --trust-proxy <this balancer's`,
    `            # address> so that --sticky ip routes by this header (the app reads it as Express's`,
    `            # req.ip with app.set('trust proxy', ...)).`,
    `            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`,
    `            proxy_set_header X-Forwarded-Proto $scheme;`,
    `            proxy_connect_timeout 5s;`,
    `            proxy_read_timeout 75s;`,
    `            proxy_send_timeout 75s;`,
    `            # A host that refuses, times out or answers 503 (corral's answer when none of its`,
    `            # workers is ready) gets the request retried on another server of the same group.`,
    `            # nginx retries only before anything reached the client, and never a POST once sent.`,
    `            # A session's own group has one server: its sessions live in that host's memory.`,
    `            proxy_next_upstream error timeout http_503;`,
    `            proxy_next_upstream_timeout 10s;`,
    `            # Server-sent events or other streamed responses: add \`proxy_buffering off;\`.`,
    `        }`,
    `    }`,
    `}`,
    ``,
  ];
  return out.join('\n');
}

function upstream(route: LbRoute): string[] {
  const who = route.slot === undefined ? `host ${route.host.id}` : `host ${route.host.id}, slot ${route.slot}`;
  const why = route.slot === undefined && route.servers.length > 1
    ? [`    # A sid of host ${route.host.id} naming a slot beyond --workers: any of its ports; its workers forward it.`]
    : [`    # Sessions issued by ${who} (sids starting ${route.prefix}) live there only.`];
  return [
    ``,
    ...why,
    `    upstream ${route.backend} {`,
    ...(route.servers.length > 1 ? [`        least_conn;`] : []),
    ...route.servers.map((s) => `        server ${s.endpoint};`),
    ...keepalive(KEEPALIVE_ROUTE, false),
    `    }`,
  ];
}

function keepalive(connections: number, explain: boolean): string[] {
  return [
    ...(explain ? [
      `        # Idle connections kept open per nginx worker process, here and in every group below;`,
      `        # closed after 4 s, before Node's default keepAliveTimeout (5 s) would close them under`,
      `        # a request nginx just sent.`,
    ] : []),
    `        keepalive ${connections};`,
    `        keepalive_timeout 4s;`,
  ];
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PrimaryStatus, WorkerStatus } from '../control/protocol';
import { log } from '../log';

/** What the dashboard shows and does, asked of the primary. */
export interface DashboardSource {
  primaryStatus(): PrimaryStatus;
  status(): WorkerStatus[];
  reload(): Promise<{ ok: boolean; message: string }>;
  scale(workers: number): void;
}

/** One second of the live view: figures only; no environment, arguments or paths. */
interface Frame {
  name: string;
  pid: number;
  port: number;
  sticky: string;
  uptimeMs: number;
  handoffsPerSecond: number;
  connections: number;
  workers: Pick<WorkerStatus, 'slot' | 'pid' | 'state' | 'uptimeMs' | 'restarts' | 'connections' | 'sessions' | 'rssBytes' | 'cpuPercent'>[];
}

/**
 * `--dashboard`: a page on the metrics port (no build step: one HTML file with its script),
 * fed every second over Server-Sent Events, with reload and scale buttons that need the token
 * printed at start (sent as `x-corral-token`). The page is loopback-only unless --metrics-host
 * says otherwise.
 */
export class Dashboard {
  readonly token = randomBytes(16).toString('hex');
  readonly #source: DashboardSource;
  readonly #streams = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  #last: { at: number; handoffs: number } | undefined;

  constructor(source: DashboardSource) {
    this.#source = source;
  }

  /** Serve `req` if it is the dashboard's; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === '/dashboard' && req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
      res.end(PAGE);
      return true;
    }
    if (path === '/dashboard/events' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      this.#streams.add(res);
      res.write(`data: ${JSON.stringify(this.#frame())}\n\n`);
      res.on('close', () => {
        this.#streams.delete(res);
        if (this.#streams.size === 0) this.#stopTicking();
      });
      this.#startTicking();
      return true;
    }
    if ((path === '/dashboard/reload' || path === '/dashboard/scale') && req.method === 'POST') {
      if (!this.#authorized(req)) {
        res.statusCode = 403;
        res.end('corral: this needs the dashboard token printed when corral started (x-corral-token header).\n');
        return true;
      }
      if (path === '/dashboard/reload') {
        void this.#source.reload().then((report) => {
          res.statusCode = report.ok ? 200 : 500;
          res.end(`${report.message}\n`);
        });
      } else {
        const workers = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('workers'));
        try {
          this.#source.scale(workers);
          res.end(`scaling to ${workers}\n`);
        } catch (err) {
          res.statusCode = 400;
          res.end(`${(err as Error).message}\n`);
        }
      }
      return true;
    }
    return false;
  }

  close(): void {
    this.#stopTicking();
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  #authorized(req: IncomingMessage): boolean {
    const given = req.headers['x-corral-token'];
    if (typeof given !== 'string' || given.length !== this.token.length) return false;
    return timingSafeEqual(Buffer.from(given), Buffer.from(this.token));
  }

  #startTicking(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      const data = `data: ${JSON.stringify(this.#frame())}\n\n`;
      for (const res of this.#streams) res.write(data);
    }, 1000);
    this.#timer.unref();
  }

  #stopTicking(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #frame(): Frame {
    const primary = this.#source.primaryStatus();
    const workers = this.#source.status();
    const now = Date.now();
    const rate = this.#last === undefined || now <= this.#last.at ? 0 : ((primary.handoffs - this.#last.handoffs) * 1000) / (now - this.#last.at);
    this.#last = { at: now, handoffs: primary.handoffs };
    return {
      name: primary.name,
      pid: primary.pid,
      port: primary.port,
      sticky: primary.sticky,
      uptimeMs: primary.uptimeMs,
      handoffsPerSecond: Math.round(rate),
      connections: workers.reduce((n, w) => n + w.connections, 0),
      workers: workers.map((w) => ({ slot: w.slot, pid: w.pid, state: w.state, uptimeMs: w.uptimeMs, restarts: w.restarts, connections: w.connections, sessions: w.sessions, rssBytes: w.rssBytes, cpuPercent: w.cpuPercent })),
    };
  }
}

/** Say where the dashboard is and its token, once. */
export function announceDashboard(url: string, token: string): void {
  log.info('dashboard.listening', `dashboard on ${url}/dashboard (reload and scale need the token ${token})`, { url: `${url}/dashboard` });
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>corral</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.2rem;margin:0 0 .3rem}#meta{color:#555;margin-bottom:1rem}
table{border-collapse:collapse;margin-bottom:1rem}td,th{padding:.25rem .7rem;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}td.state{text-align:left}.ready{color:#070}.starting,.draining{color:#a60}.unresponsive,.restarting,.halted{color:#b00}
canvas{border:1px solid #ddd}#controls{margin-top:1rem}input{width:18rem}
</style></head><body>
<h1 id="title">corral</h1><div id="meta">connecting...</div>
<table><thead><tr><th>slot</th><th>pid</th><th>state</th><th>uptime</th><th>restarts</th><th>connections</th><th>sessions</th><th>RSS</th><th>CPU</th></tr></thead><tbody id="slots"></tbody></table>
<canvas id="chart" width="640" height="160"></canvas>
<div><span style="color:#06c">handoffs/s</span> &middot; <span style="color:#c60">connections</span></div>
<div id="controls"><input id="token" placeholder="token (printed when corral started)" type="password">
<button id="reload">rolling reload</button> <input id="workers" type="number" min="1" style="width:4rem"> <button id="scale">scale</button> <span id="said"></span></div>
<script>
const history=[];const $=(id)=>document.getElementById(id);
const dur=(ms)=>{const s=Math.floor(ms/1000);return s<60?s+'s':s<3600?Math.floor(s/60)+'m'+(s%60)+'s':Math.floor(s/3600)+'h'+Math.floor(s%3600/60)+'m'};
function draw(){const c=$('chart'),g=c.getContext('2d');g.clearRect(0,0,c.width,c.height);
for(const [key,color] of [['h','#06c'],['c','#c60']]){const max=Math.max(1,...history.map(p=>p[key]));g.strokeStyle=color;g.beginPath();
history.forEach((p,i)=>{const x=i*(c.width/59),y=c.height-4-(p[key]/max)*(c.height-8);i?g.lineTo(x,y):g.moveTo(x,y)});g.stroke()}}
const events=new EventSource('/dashboard/events');
events.onmessage=(e)=>{const f=JSON.parse(e.data);$('title').textContent='corral: '+f.name;
$('meta').textContent='primary pid '+f.pid+', port '+f.port+', sticky '+f.sticky+', up '+dur(f.uptimeMs)+', '+f.handoffsPerSecond+' handoffs/s, '+f.connections+' connections';
$('slots').innerHTML='';for(const w of f.workers){const tr=document.createElement('tr');tr.dataset.slot=w.slot;
for(const [v,cls] of [[w.slot],[w.pid??'-'],[w.state,'state '+w.state],[w.pid?dur(w.uptimeMs):'-'],[w.restarts],[w.connections],[w.sessions],[w.rssBytes?(w.rssBytes/1048576).toFixed(1)+' MB':'-'],[w.cpuPercent+'%']]){const td=document.createElement('td');td.textContent=String(v);if(cls)td.className=cls;tr.appendChild(td)}
$('slots').appendChild(tr)}history.push({h:f.handoffsPerSecond,c:f.connections});if(history.length>60)history.shift();draw()};
events.onerror=()=>{$('meta').textContent='disconnected; retrying...'};
async function post(path){const r=await fetch(path,{method:'POST',headers:{'x-corral-token':$('token').value}});$('said').textContent=(await r.text()).trim()}
$('reload').onclick=()=>post('/dashboard/reload');$('scale').onclick=()=>post('/dashboard/scale?workers='+encodeURIComponent($('workers').value));
</script></body></html>
`;

import { resolve } from 'node:path';
import { CorralError } from '../errors';
import { OPTION_NAMES, type CorralOptions } from '../options';

/** PM2 ecosystem keys and the corral option each becomes. */
const RENAMED: Record<string, keyof CorralOptions> = {
  script: 'app',
  args: 'appArgs',
  instances: 'workers',
  node_args: 'nodeArgs',
  interpreter_args: 'nodeArgs',
  max_memory_restart: 'maxMemory',
  kill_timeout: 'killTimeout',
  listen_timeout: 'readyTimeout',
  wait_ready: 'waitReady',
  min_uptime: 'minUptime',
  max_restarts: 'maxRestarts',
};

/** PM2 keys corral has no use for: what it does instead, said once at start. */
const COVERED: Record<string, string> = {
  exec_mode: 'corral always runs cluster mode',
  ignore_watch: 'node_modules and dot-directories are never watched; list what to watch in watch',
  out_file: 'a daemon writes one log file under the state dir (corral logs NAME)',
  error_file: 'a daemon writes one log file under the state dir (corral logs NAME)',
  log_file: 'a daemon writes one log file under the state dir (corral logs NAME)',
  merge_logs: 'logs are always merged, each line with its slot',
  log_date_format: 'every daemon log line starts with an ISO time',
  time: 'every daemon log line starts with an ISO time',
  instance_var: 'NODE_APP_INSTANCE is always set',
  pid_file: 'corral list shows pids',
  combine_logs: 'logs are always merged',
};

/** PM2 keys whose behaviour corral does not offer: refused, so nobody relies on them unknowingly. */
const REFUSED: Record<string, (value: unknown) => string | undefined> = {
  autorestart: (v) => (v === false ? 'corral always restarts a worker that dies (with backoff); a crash loop halts its slot' : undefined),
  interpreter: (v) => (v === undefined || v === 'node' || (typeof v === 'string' && v.endsWith('/node')) ? undefined : 'corral runs Node.js apps only; use node_args (e.g. "--import tsx") for TypeScript'),
  cron_restart: () => 'corral has no cron restarts; run `corral reload NAME` from cron or a systemd timer',
  exp_backoff_restart_delay: () => 'corral always backs off exponentially (100 ms up to 5 s)',
  restart_delay: () => 'corral always backs off exponentially (100 ms up to 5 s)',
  force: () => 'corral refuses a second cluster of one name; use another name',
};

/** One app of a PM2 ecosystem file, as corral options, with the PM2 keys it ignored and why. */
export interface EcosystemApp {
  readonly name: string;
  readonly options: Partial<CorralOptions> & Record<string, unknown>;
  readonly ignored: readonly string[];
}

/**
 * The `apps` array of a PM2 ecosystem file (`module.exports = { apps: [...] }`), as corral
 * options: PM2's keys renamed (`script` -> `app`, `instances: 'max'` -> `workers: 'auto'`...),
 * corral's own keys kept, `env` and `env_<name>` kept for `--env`, `cwd` resolving `script`.
 * A key corral does not know, or one whose PM2 behaviour it does not offer, is an error that
 * names it.
 */
export function ecosystemApps(apps: unknown, file: string): EcosystemApp[] {
  if (!Array.isArray(apps) || apps.length === 0) throw bad(file, 'apps must be a non-empty array of apps, as in a PM2 ecosystem file');
  const names = new Set<string>();
  return apps.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(file, `apps[${i}] must be an object`);
    const options: Record<string, unknown> = {};
    const ignored: string[] = [];
    const cwd = typeof (entry as { cwd?: unknown }).cwd === 'string' ? resolve(file, '..', (entry as { cwd: string }).cwd) : resolve(file, '..');
    for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
      if (key === 'cwd') continue;
      const refused = REFUSED[key]?.(value);
      if (refused !== undefined) throw bad(file, `apps[${i}].${key}: ${refused}`);
      if (key in REFUSED) continue;
      if (key in COVERED) {
        ignored.push(`${key} (${COVERED[key]})`);
        continue;
      }
      const option = RENAMED[key] ?? key;
      if (!(OPTION_NAMES as readonly string[]).includes(option) && !key.startsWith('env_')) {
        throw bad(file, `apps[${i}].${key} is neither a corral option nor a PM2 key corral maps (corral's: ${OPTION_NAMES.join(', ')})`);
      }
      options[option] = value;
    }
    if (options['workers'] === 'max' || options['workers'] === -1 || options['workers'] === 0) options['workers'] = 'auto';
    if (typeof options['appArgs'] === 'string') options['appArgs'] = (options['appArgs'] as string).split(/\s+/).filter((a) => a !== '');
    if (typeof options['app'] === 'string') options['app'] = resolve(cwd, options['app'] as string);
    // PM2 apps often take their port from env.PORT: corral serves that port unless told another.
    const envPort = (options['env'] as { PORT?: unknown } | undefined)?.PORT;
    if (options['port'] === undefined && envPort !== undefined) options['port'] = envPort;
    const name = typeof options['name'] === 'string' ? options['name'] : typeof options['app'] === 'string' ? undefined : `app${i}`;
    const resolvedName = name ?? (options['app'] as string).split('/').pop()!.replace(/\.[cm]?[jt]s$/, '');
    if (names.has(resolvedName)) throw bad(file, `two apps are called ${resolvedName}: give each a distinct name`);
    names.add(resolvedName);
    options['name'] = resolvedName;
    return { name: resolvedName, options, ignored };
  });
}

function bad(file: string, what: string): CorralError {
  return new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --config: ${file}: ${what}.`);
}

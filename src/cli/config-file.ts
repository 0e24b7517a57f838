import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CorralError } from '../errors';
import type { CorralOptions } from '../options';

const CANDIDATES = ['corral.config.js', 'corral.config.cjs', 'corral.config.json'];

/**
 * Options from a config file: `--config PATH`, else the first of corral.config.{js,cjs,json}
 * in the working directory. A JS file exports the options object (like PM2's ecosystem file,
 * without the `apps` array: one corral runs one app). Undefined when there is none.
 */
export function loadConfigFile(explicit: string | undefined, cwd = process.cwd()): { path: string; options: Partial<CorralOptions> } | undefined {
  const path = explicit !== undefined ? resolve(cwd, explicit) : CANDIDATES.map((c) => resolve(cwd, c)).find((p) => existsSync(p));
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --config: ${path} does not exist.`);
  let loaded: unknown;
  try {
    loaded = require(path) as unknown;
  } catch (err) {
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --config: ${path} could not be loaded: ${(err as Error).message}`, { cause: err });
  }
  const options = (loaded as { default?: unknown })?.default ?? loaded;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --config: ${path} must export an object of options, e.g. { app: 'server.js', workers: 4 }.`);
  }
  const opts = { ...(options as Partial<CorralOptions>) };
  // A relative app path in the file means relative to the file.
  if (typeof opts.app === 'string') opts.app = resolve(path, '..', opts.app);
  return { path, options: opts };
}

/**
 * A config file's environment, PM2-style: `env` always, and `env_<name>` over it when
 * `--env <name>` picks it (`env_production`). Returns the options without the `env_*` blocks.
 */
export function selectEnv(options: Partial<CorralOptions> & Record<string, unknown>, envName: string | undefined): Partial<CorralOptions> {
  const blocks = Object.keys(options).filter((k) => k.startsWith('env_'));
  const rest: Record<string, unknown> = { ...options };
  for (const k of blocks) delete rest[k];
  if (envName === undefined) return rest as Partial<CorralOptions>;
  const chosen = options[`env_${envName}`];
  if (chosen === undefined) {
    const known = blocks.map((b) => b.slice(4));
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --env: the config file has no env_${envName} block${known.length > 0 ? ` (it has: ${known.join(', ')})` : ' (add one, e.g. env_production: { NODE_ENV: "production" })'}.`);
  }
  if (typeof chosen !== 'object' || chosen === null || Array.isArray(chosen)) throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad option --env: env_${envName} must be an object of variables.`);
  rest['env'] = { ...((options.env as object | undefined) ?? {}), ...(chosen as object) };
  return rest as Partial<CorralOptions>;
}

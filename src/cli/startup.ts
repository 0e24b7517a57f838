import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '../errors';
import { dumpFile, readRecords, type AppRecord } from './state';

const CLI = join(__dirname, 'main.js');

/** Inits corral knows but writes nothing for: the README says how to run `corral resurrect` at boot there. */
const BY_HAND: Readonly<Record<string, string>> = {
  openrc: 'OpenRC',
  launchd: 'launchd',
  upstart: 'Upstart',
  sysvinit: 'SysV init',
};

/** The variables the unit passes on as they are now, so `resurrect` and `stop` find the same state and sockets. */
const PASSED_ENV = ['PATH', 'HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR'] as const;

/** What a systemd unit for `corral startup` is made of; {@link systemdUnit} turns it into text. */
export interface UnitInput {
  /** `system`: /etc/systemd/system, runs as `user`; `user`: for `systemctl --user`. */
  readonly scope: 'system' | 'user';
  readonly user: string;
  /** Absolute path of the node binary and of corral's CLI script. */
  readonly node: string;
  readonly cli: string;
  /** The variables of {@link PASSED_ENV} that are set now. */
  readonly env: Readonly<Record<string, string>>;
  /** Where `corral save` keeps its list, for the comments. */
  readonly dump: string;
  /** The saved names that still have a record; `undefined` when there is no saved list at all. */
  readonly saved: readonly string[] | undefined;
  /** Names saved but deleted since (resurrect skips them). */
  readonly deleted: readonly string[];
  /** The longest `--kill-timeout` of the saved clusters, in ms. */
  readonly killTimeoutMs: number;
  /** uids whose `/run/user/<uid>` the clusters' sockets live in (their XDG_RUNTIME_DIR). */
  readonly runtimeUids: readonly number[];
}

/**
 * `corral startup [init]`: print a boot unit that runs `corral resurrect` (the clusters of
 * `corral save`) at boot and stops them at shutdown. Only systemd is written; other inits are
 * refused with a pointer to the README. Exits 1, after printing the unit, when nothing was saved.
 */
export function registerStartup(program: Command): void {
  program
    .command('startup')
    .description('print a systemd unit that starts the clusters of `corral save` at boot (install it as its comments say)')
    .argument('[init]', 'the init system: systemd (the only one written; the README covers OpenRC and launchd)', 'systemd')
    .option('--user', 'a user unit, for `systemctl --user` (WantedBy=default.target), instead of a system unit that runs as you')
    .action((init: string, flags: { user?: boolean }) => {
      checkInit(init);
      const input = unitInput(flags.user === true ? 'user' : 'system');
      process.stdout.write(systemdUnit(input));
      if (input.saved === undefined) {
        throw new CorralError('ERR_CORRAL_NOT_RUNNING', `no saved list at ${input.dump}: the unit above would start nothing. Start your clusters with \`corral start app.js -d --name NAME\`, run \`corral save\`, then \`corral startup\` again.`);
      }
      if (input.saved.length === 0) process.stderr.write(`corral: the saved list ${input.dump} names no daemon that still exists, so this unit starts nothing at boot; run \`corral save\` while your daemons run, then \`corral startup\` again.\n`);
    });
}

function checkInit(init: string): void {
  if (init === 'systemd') return;
  const known = BY_HAND[init.toLowerCase()];
  if (known !== undefined) {
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `corral startup writes systemd units only, not ${known}: the README's "Daemons and boot" section shows how to run \`corral resurrect\` at boot with ${known}.`);
  }
  throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad argument init: expected systemd, got ${JSON.stringify(init)} (for OpenRC or launchd, see the README's "Daemons and boot" section).`);
}

/** Gather what the unit needs from this process, the saved list and the records. */
function unitInput(scope: UnitInput['scope']): UnitInput {
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) {
    const value = process.env[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  const dump = dumpFile();
  const names = readDump(dump);
  const records = new Map(readRecords().map((r) => [r.name, r]));
  const saved = names?.filter((n) => records.has(n));
  const kept = (saved ?? []).map((n) => records.get(n)!);
  const runtimeDirs = [env['XDG_RUNTIME_DIR'], ...kept.map((r) => r.env['XDG_RUNTIME_DIR'])];
  const runtimeUids = [...new Set(runtimeDirs.map((d) => /^\/run\/user\/(\d+)\/?$/.exec(d ?? '')?.[1]).filter((u): u is string => u !== undefined).map(Number))];
  return {
    scope,
    user: userInfo().username,
    node: process.execPath,
    cli: CLI,
    env,
    dump,
    saved,
    deleted: (names ?? []).filter((n) => !records.has(n)),
    killTimeoutMs: Math.max(5000, ...kept.map(killTimeoutOf)),
    runtimeUids,
  };
}

/** The names `corral save` wrote, or `undefined` when it never ran. */
function readDump(path: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CorralError('ERR_CORRAL_NOT_RUNNING', `cannot read the saved list ${path}: ${(err as Error).message}.`, { cause: err });
  }
  let names: unknown;
  try {
    names = JSON.parse(text);
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
    throw new CorralError('ERR_CORRAL_NOT_RUNNING', `the saved list ${path} is not a list of names: run \`corral save\` again while your daemons run.`);
  }
  return names as string[];
}

/** A record's `--kill-timeout`: recorded since the daemon resolved it, else read off its arguments. */
function killTimeoutOf(record: AppRecord): number {
  if (record.killTimeout !== undefined) return record.killTimeout;
  const args = record.args;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const arg = args[i]!;
    const value = arg === '--kill-timeout' ? args[i + 1] : arg.startsWith('--kill-timeout=') ? arg.slice('--kill-timeout='.length) : undefined;
    const ms = Number(value);
    if (value !== undefined && Number.isFinite(ms) && ms > 0) return ms;
  }
  return 5000;
}

/** A unit name made of what systemd accepts. */
function unitName(user: string): string {
  return `corral-${user.replace(/[^A-Za-z0-9:_.-]/g, '_')}.service`;
}

/** Inside double quotes: backslash escapes, control characters as \xNN (systemd unescapes both). */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}

/** One word of an Exec line: `%` is a specifier and `$` a variable there, so both are doubled. */
function execWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(word) ? escaped : quoted(escaped);
}

/** An `Environment=` line: specifiers are expanded there, variables are not. */
function envLine(key: string, value: string): string {
  return `Environment=${quoted(`${key}=${value.replace(/%/g, '%%')}`)}`;
}

/** The text of the unit: comments saying how to install it and why it is built so, then the unit. */
export function systemdUnit(input: UnitInput): string {
  const name = unitName(input.user);
  const user = input.scope === 'user';
  const cli = (...args: string[]): string => [input.node, input.cli, ...args].map(execWord).join(' ');
  const saved = input.saved ?? [];
  const stopSec = Math.max(60, Math.ceil(input.killTimeoutMs / 1000) + 30);
  const lines: string[] = [
    `# ${name}: start the corral clusters ${input.user} saved (${saved.join(', ') || 'none yet'}) at boot, stop them at shutdown.`,
    `# Written by \`corral startup systemd${user ? ' --user' : ''}\`. At boot, \`corral resurrect\` starts what ${input.dump}`,
    '# lists then; the ExecStop= lines are those of today: after `corral save` changes the list, write this file again.',
    '#',
  ];
  if (input.saved === undefined) {
    lines.push(`# NOTHING IS SAVED YET (${input.dump} is missing): start your clusters with \`corral start app.js -d --name NAME\`,`, '# run `corral save`, then `corral startup` again. This unit would start nothing.', '#');
  }
  if (input.deleted.length > 0) lines.push(`# Saved but deleted since, so neither started nor stopped here: ${input.deleted.join(', ')}.`, '#');
  if (user) {
    lines.push(
      '# Install it (no root needed):',
      '#   mkdir -p ~/.config/systemd/user',
      `#   corral startup systemd --user > ~/.config/systemd/user/${name}`,
      '#   systemctl --user daemon-reload',
      `#   systemctl --user enable --now ${name}`,
      `#   sudo loginctl enable-linger ${input.user}    # start it at boot, not at your first login, and keep it after you log out`,
      `# systemctl --user status ${name} shows it; journalctl --user -u ${name} what resurrect and stop printed.`,
    );
  } else {
    lines.push(
      `# Install it: run \`corral startup\` as the user whose clusters these are (here ${input.user}), then as root:`,
      `#   corral startup systemd > ${name}`,
      `#   sudo install -m 644 ${name} /etc/systemd/system/${name}`,
      '#   sudo systemctl daemon-reload',
      `#   sudo systemctl enable --now ${name}`,
      `# systemctl status ${name} shows it; journalctl -u ${name} what resurrect and stop printed.`,
      '# Without root, as a user unit: corral startup systemd --user',
    );
  }
  if (!user && input.runtimeUids.length > 0) {
    lines.push(
      '#',
      `# The clusters keep their sockets in ${input.runtimeUids.map((u) => `/run/user/${u}`).join(', ')} (their XDG_RUNTIME_DIR). That`,
      '# directory exists before the first login, and stays after the last one ends, only for a user who lingers:',
      `#   sudo loginctl enable-linger ${input.user}`,
    );
  }
  lines.push(
    '#',
    '# Why it is built so: `corral resurrect` starts each cluster detached and returns once all are ready;',
    "# their primaries stay in this unit's control group, and RemainAfterExit=yes keeps the unit active",
    '# (no TimeoutStartSec: resurrect gives each cluster its own deadline, from its --ready-timeout).',
    '# At stop, each ExecStop= drains one cluster (`corral stop NAME` waits for it). Whatever is left then',
    '# gets SIGTERM from systemd (KillMode=control-group), which a primary handles the same way: it drains',
    '# its workers within --kill-timeout (workers ignore that SIGTERM; their primary stops them). SIGKILL',
    '# comes only after TimeoutStopSec. One cluster that fails to start leaves the others running:',
    '# resurrect then exits 1, which SuccessExitStatus=1 accepts (its error is in the journal). A leading',
    '# "-" lets the next ExecStop=/ExecReload= line run after one that failed. ExecStart= has none, so a',
    '# wrong node or corral path fails the unit (and `systemd-analyze verify` reports it).',
    '',
    '[Unit]',
    `Description=corral clusters of ${input.user}`,
  );
  if (!user) lines.push('Wants=network-online.target', 'After=network-online.target');
  for (const uid of user ? [] : input.runtimeUids) lines.push(`Wants=user-runtime-dir@${uid}.service`, `After=user-runtime-dir@${uid}.service`);
  lines.push('', '[Service]', 'Type=oneshot', 'RemainAfterExit=yes');
  if (!user) lines.push(`User=${input.user}`);
  for (const [key, value] of Object.entries(input.env)) lines.push(envLine(key, value));
  lines.push(`ExecStart=${cli('resurrect')}`, 'SuccessExitStatus=1');
  for (const n of saved) lines.push(`ExecReload=-${cli('reload', n)}`);
  for (const n of saved) lines.push(`ExecStop=-${cli('stop', n)}`);
  lines.push('KillMode=control-group', `TimeoutStopSec=${stopSec}`, '', '[Install]', `WantedBy=${user ? 'default.target' : 'multi-user.target'}`, '');
  return lines.join('\n');
}

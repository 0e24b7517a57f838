import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { control } from '../control/client';
import { probeSocket, runtimeBase } from '../control/paths';
import type { PrimaryStatus, WorkerStatus } from '../control/protocol';
import { CorralError } from '../errors';
import { readRecord, readRecords } from './state';

/** A corral running for this user on this machine, as its control socket describes it. */
export interface RunningCorral {
  readonly controlPath: string;
  readonly primary: PrimaryStatus;
  readonly workers: readonly WorkerStatus[];
}

/**
 * Every corral of this user that answers on a control socket in the runtime directory (the
 * foreground ones too), and those started with --control elsewhere that a record names.
 * A socket that does not answer within 2 s is left out.
 */
export async function runningCorrals(): Promise<RunningCorral[]> {
  const base = runtimeBase();
  const paths = new Set<string>();
  try {
    for (const name of readdirSync(base)) if (name.endsWith('.sock')) paths.add(join(base, name));
  } catch {
    // no runtime dir: nothing runs
  }
  for (const record of readRecords()) paths.add(record.controlPath);
  const found = await Promise.all(
    [...paths].map(async (controlPath): Promise<RunningCorral | undefined> => {
      try {
        const response = await control(controlPath, { cmd: 'status' }, 2000);
        return response.ok && 'workers' in response ? { controlPath, primary: response.primary, workers: response.workers } : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return found.filter((c): c is RunningCorral => c !== undefined).sort((a, b) => a.primary.name.localeCompare(b.primary.name) || a.primary.port - b.primary.port);
}

/**
 * The control socket of the cluster called `name`: a running one of that name, else its
 * record's. Two running under one name (possible in the foreground): named, with what to do.
 */
export async function controlPathOfName(name: string): Promise<string> {
  // A daemon of this state dir owns its name here, whatever else runs under that name.
  const record = readRecord(name);
  if (record !== undefined) {
    if ((await probeSocket(record.controlPath)) === 'answers') return record.controlPath;
    throw new CorralError('ERR_CORRAL_NOT_RUNNING', `${name} is stopped: \`corral restart ${name}\` starts it again as it was started (\`corral list\` shows them all).`);
  }
  const running = (await runningCorrals()).filter((c) => c.primary.name === name);
  if (running.length === 1) return running[0]!.controlPath;
  if (running.length > 1) {
    throw new CorralError('ERR_CORRAL_BAD_OPTION', `several corrals are called ${name} (ports ${running.map((c) => c.primary.port).join(', ')}): address one with -p PORT.`);
  }
  throw new CorralError('ERR_CORRAL_NOT_RUNNING', `no corral is called ${name}: \`corral list\` shows those running; start one with \`corral start app.js --name ${name}\`.`);
}


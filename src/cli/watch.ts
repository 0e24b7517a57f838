import { watch, type FSWatcher } from 'node:fs';
import { sep } from 'node:path';
import { log } from '../log';
import type { ReloadReport } from '../control/protocol';

/** Changes within this long of each other make one reload (an editor saves several files, a build writes many). */
const DEBOUNCE_MS = 300;

/** Path parts that never trigger a reload: dependencies, VCS and dot-directories, logs. */
function ignored(file: string): boolean {
  return file.split(sep).some((part) => part === 'node_modules' || (part.startsWith('.') && part.length > 1)) || file.endsWith('.log');
}

/**
 * `--watch`: a rolling reload when a file under `paths` changes, debounced; a change during a
 * reload makes one more after it. For development: every worker is replaced, one at a time.
 */
export function watchForReload(paths: readonly string[], reload: () => Promise<ReloadReport>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  const fire = (): void => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = true;
    log.info('watch.change', 'a watched file changed: rolling reload');
    void reload()
      .then((report) => {
        if (!report.ok) log.warn('watch.reload-failed', `the reload after a change failed: ${report.message}`);
      })
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          fire();
        }
      });
  };
  const watchers: FSWatcher[] = paths.map((path) =>
    watch(path, { recursive: true, persistent: false }, (_event, file) => {
      if (file !== null && ignored(String(file))) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(fire, DEBOUNCE_MS);
    }),
  );
  for (const w of watchers) w.on('error', (err) => log.warn('watch.error', `--watch stopped watching: ${err.message}`));
  log.info('watch.start', `watching ${paths.join(', ')} for changes (a change reloads every worker)`);
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

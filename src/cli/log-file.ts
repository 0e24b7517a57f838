import { createWriteStream, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { appJsonLines, jsonLine, LineSplitter, textLine, type LogFormat, type OutputSink } from '../output';

/** A log file past this size is rotated: `NAME.log` -> `NAME.log.1` -> ... */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Rotated files kept besides the current one: at most (1 + this) x LOG_MAX_BYTES on disk per cluster. */
export const LOG_KEEP = 3;

/** An append-only file that rotates itself by size, so a daemon's logs never fill the disk. */
export class RotatingFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #stream: WriteStream;
  #size: number;

  constructor(path: string, maxBytes = LOG_MAX_BYTES, keep = LOG_KEEP) {
    this.path = path;
    this.#maxBytes = maxBytes;
    this.#keep = keep;
    this.#size = sizeOf(path);
    this.#stream = this.#open();
  }

  write(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) this.#rotate();
    this.#size += bytes;
    this.#stream.write(text);
  }

  /** Flush and close (the process is about to exit). */
  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(resolve));
  }

  #open(): WriteStream {
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 });
    // A full disk must not take the primary down: lines are lost, the cluster keeps serving.
    stream.on('error', () => undefined);
    return stream;
  }

  #rotate(): void {
    // The old stream finishes its pending writes into the renamed file.
    this.#stream.end();
    rmSync(`${this.path}.${this.#keep}`, { force: true });
    for (let i = this.#keep - 1; i >= 1; i--) tryRename(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    tryRename(this.path, `${this.path}.1`);
    this.#size = 0;
    this.#stream = this.#open();
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function tryRename(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    // not there yet
  }
}

/**
 * A daemon's output, into one rotating file. Text: every line stamped with the time and its
 * writer, `2026-12-01T13:17:03.123Z [corral] ...` or `... [worker 1] ...` (`[worker 1 err]` for
 * stderr). JSON: the same objects as on a terminal in JSON mode, one per line.
 */
export function fileSink(file: RotatingFile, format: LogFormat = 'text'): OutputSink {
  const splitter = new LineSplitter();
  const stamp = (who: string, lines: string): string =>
    lines
      .split('\n')
      .map((line) => `${new Date().toISOString()} [${who}] ${line}\n`)
      .join('');
  return {
    corral(record) {
      file.write(format === 'json' ? jsonLine(record) : stamp('corral', textLine(record).replace(/^\[corral\] /, '').replace(/\n$/, '')));
    },
    app(slot, stream, chunk) {
      const lines = splitter.lines(slot, stream, chunk);
      if (lines === undefined) return;
      file.write(format === 'json' ? appJsonLines(slot, stream, lines) : stamp(stream === 'out' ? `worker ${slot}` : `worker ${slot} err`, lines));
    },
  };
}

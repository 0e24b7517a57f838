/**
 * Where corral's own lines and the app's output go, and in which form: `text` (people) or
 * `json` (one object per line, for log shippers). In the foreground both go to the terminal; a
 * daemon (`corral start -d`) writes them to its log file.
 */
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Values a log line carries besides its message. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** One thing corral says: a lifecycle event or a warning, named by `event` (`worker.ready`). */
export interface LogRecord {
  readonly level: 'info' | 'warn' | 'error';
  readonly event: string;
  readonly message: string;
  readonly fields?: LogFields | undefined;
}

export interface OutputSink {
  corral(record: LogRecord): void;
  /** Bytes the app wrote in the worker of `slot`. */
  app(slot: number, stream: 'out' | 'err', chunk: Buffer): void;
}

/** `{"time":...,"level":...,"event":...,"msg":...,...fields}` and a newline. */
export function jsonLine(record: LogRecord, time = new Date()): string {
  return `${JSON.stringify({ time: time.toISOString(), level: record.level, event: record.event, msg: record.message, ...record.fields })}\n`;
}

/** `[corral] message` (`[corral] warning: ...`, `[corral] error: ...`) and a newline. */
export function textLine(record: LogRecord): string {
  const level = record.level === 'info' ? '' : record.level === 'warn' ? 'warning: ' : 'error: ';
  return `[corral] ${level}${record.message}\n`;
}

/** The app's output as JSON lines: `{"time","level","event":"app.output","slot","stream","msg"}`. */
export function appJsonLines(slot: number, stream: 'out' | 'err', lines: string): string {
  const time = new Date().toISOString();
  return lines
    .split('\n')
    .map((msg) => `${JSON.stringify({ time, level: stream === 'out' ? 'info' : 'error', event: 'app.output', slot, stream: stream === 'out' ? 'stdout' : 'stderr', msg })}\n`)
    .join('');
}

/**
 * Splits a worker's output into whole lines (a partial one waits for its end, or for 64 KiB),
 * per slot and stream, for sinks that put something in front of each line.
 */
export class LineSplitter {
  readonly #partial = new Map<string, string>();

  /** The whole lines `chunk` completes (without the last newline), or undefined. */
  lines(slot: number, stream: 'out' | 'err', chunk: Buffer): string | undefined {
    const key = `${slot}${stream}`;
    const text = (this.#partial.get(key) ?? '') + chunk.toString();
    const end = text.lastIndexOf('\n');
    if (end < 0 && text.length < 64 * 1024) {
      this.#partial.set(key, text);
      return undefined;
    }
    this.#partial.set(key, end < 0 ? '' : text.slice(end + 1));
    return end < 0 ? text : text.slice(0, end);
  }
}

/**
 * The terminal: text lines as they are, the app's output raw when piped, with `[worker N]` in
 * front of each line on a TTY (where several workers' lines interleave); or JSON lines.
 */
export function terminalSink(format: LogFormat, tty = process.stdout.isTTY === true): OutputSink {
  const splitter = new LineSplitter();
  const to = (stream: 'out' | 'err'): NodeJS.WriteStream => (stream === 'out' ? process.stdout : process.stderr);
  return {
    corral(record) {
      to(record.level === 'info' ? 'out' : 'err').write(format === 'json' ? jsonLine(record) : textLine(record));
    },
    app(slot, stream, chunk) {
      if (format === 'text' && !tty) {
        to(stream).write(chunk);
        return;
      }
      const lines = splitter.lines(slot, stream, chunk);
      if (lines === undefined) return;
      const tag = `[worker ${slot}] `;
      to(stream).write(format === 'json' ? appJsonLines(slot, stream, lines) : `${lines.split('\n').map((l) => tag + l).join('\n')}\n`);
    },
  };
}

let current: OutputSink = terminalSink('text');

export function output(): OutputSink {
  return current;
}

/** Send everything to `sink` from now on. */
export function setOutput(sink: OutputSink): void {
  current = sink;
}

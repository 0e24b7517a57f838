/**
 * Where corral's own lines and the app's output go. In the foreground both pass to the
 * terminal as they come; a daemon (`corral start -d`) writes them to its log file, each line
 * stamped with the time and who wrote it.
 */
export interface OutputSink {
  /** A line corral writes (ends with a newline). */
  corral(stream: 'out' | 'err', line: string): void;
  /** Bytes the app wrote in the worker of `slot`. */
  app(slot: number, stream: 'out' | 'err', chunk: Buffer): void;
}

const terminal: OutputSink = {
  corral: (stream, line) => void (stream === 'out' ? process.stdout : process.stderr).write(line),
  app: (_slot, stream, chunk) => void (stream === 'out' ? process.stdout : process.stderr).write(chunk),
};

let current: OutputSink = terminal;

export function output(): OutputSink {
  return current;
}

/** Send everything to `sink` from now on. */
export function setOutput(sink: OutputSink): void {
  current = sink;
}

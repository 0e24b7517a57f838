import type { Lane } from '../internal/lane';
import type { RawHandle } from '../internal/raw-handle';
import { encodeHandoff } from '../protocol/lane';
import { TAG, type AdapterRelay, type ClientAddress, type ToWorker } from '../protocol/messages';
import type { WorkerChannel } from './channel';
import { transition, type WorkerState } from './worker-state';

/**
 * The primary's view of one worker process's life: its state, what it last reported, its
 * heartbeat, its stderr. The connections handed to it are the dispatcher's books
 * (src/primary/handoff.ts), not kept here.
 */
export class WorkerProcess {
  readonly slot: number;
  readonly channel: WorkerChannel;
  readonly startedAt = Date.now();
  #state: WorkerState = 'starting';
  /** Unix socket of the worker's internal server, known once ready. */
  forwardPath = '';
  /** Last report from the worker: open connections, and handoffs it had taken in all by then. */
  #connections = 0;
  #takenReported = 0;
  /** Latest resource figures reported by the worker. */
  rss = 0;
  cpuPercent = 0;
  /** Requests forwarded and upgrades relayed to other workers, in all (keep-alive connections carrying another's session). */
  forwarded = 0;
  relayed = 0;
  /** Open Engine.IO sessions, as last reported. */
  sessions = 0;
  /** A rolling reload under way will replace this worker: new sessions go to others while they can. */
  outgoing = false;
  #cpuMicros = 0;
  #cpuAt = 0;
  /** The last few KiB the app wrote to stderr, for crash reports. */
  #stderrTail = '';
  /** Heartbeat: when the worker last answered a ping (0: not ready yet), and since when it has been unresponsive. */
  lastPong = 0;
  unresponsiveSince = 0;
  #pingSeq = 0;
  /** The private IPC pipe handoffs travel on once connected (src/internal/lane.ts); Node's channel until then. */
  #lane: Lane | undefined;

  constructor(slot: number, channel: WorkerChannel) {
    this.slot = slot;
    this.channel = channel;
  }

  get pid(): number | undefined {
    return this.channel.pid;
  }

  get name(): string {
    return `worker ${this.slot} (pid ${this.pid ?? '?'})`;
  }

  get state(): WorkerState {
    return this.#state;
  }

  set state(next: WorkerState) {
    this.#state = transition(this.#state, next, this.name);
  }

  get connections(): number {
    return this.#connections;
  }

  /** Handoffs the worker had taken in all, as of its last report. */
  get takenReported(): number {
    return this.#takenReported;
  }

  stats(rss: number, cpuMicros: number, forwarded: number, relayed: number, sessions: number): void {
    this.sessions = sessions;
    this.forwarded = forwarded;
    this.relayed = relayed;
    const now = Date.now();
    if (this.#cpuAt > 0 && now > this.#cpuAt) this.cpuPercent = Math.round(((cpuMicros - this.#cpuMicros) / 1000 / (now - this.#cpuAt)) * 100);
    this.rss = rss;
    this.#cpuMicros = cpuMicros;
    this.#cpuAt = now;
  }

  /** Keep the end of what the app wrote to stderr. */
  stderr(chunk: Buffer): void {
    this.#stderrTail = (this.#stderrTail + chunk.toString()).slice(-4096);
  }

  /**
   * The app's last stderr lines (at most `lines`), for a crash report. Stack frames inside
   * Node and corral's bootstrap are left out, so the app's own error message fits.
   */
  lastStderr(lines = 12): string {
    return this.#stderrTail
      .trimEnd()
      .split('\n')
      .filter((line) => !/^\s+at .*(node:internal\/|worker\/bootstrap\.js)/.test(line))
      .slice(-lines)
      .join('\n');
  }

  report(connections: number, taken: number): void {
    this.#connections = connections;
    this.#takenReported = taken;
  }

  /** Handoffs go on this lane from now on, while it stays open. */
  useLane(lane: Lane): void {
    this.#lane?.close();
    this.#lane = lane;
  }

  /** Whether handoffs travel on the lane (else on Node's channel). */
  get onLane(): boolean {
    return this.#lane?.open === true;
  }

  /** Close the lane (the worker is gone). */
  closeLane(): void {
    this.#lane?.close();
    this.#lane = undefined;
  }

  /**
   * Hand over a connection: on the lane when it is open, else as a `handoff` message on Node's
   * channel. Either way the answer is a `handoff-reply` with the same `seq`; `onSendError`
   * hears when it could not be sent.
   */
  sendHandoff(seq: number, handle: RawHandle, bytes: Buffer, relayed: boolean, deadline: number, client: ClientAddress | undefined, onSendError: () => void): void {
    const lane = this.#lane;
    if (lane?.open === true) {
      lane.send(encodeHandoff(seq, relayed, deadline, client, bytes), handle, onSendError);
      return;
    }
    if (!this.channel.connected()) {
      onSendError();
      return;
    }
    const message: Extract<ToWorker, { type: 'handoff' }> = { tag: TAG, type: 'handoff', seq, bytes: bytes.length > 0 ? bytes.toString('base64') : '', relayed, deadline };
    if (client !== undefined) message.client = client;
    this.channel.send(message, handle, onSendError);
  }

  /** Ask for a heartbeat answer (`pong`). */
  ping(): void {
    this.message({ tag: TAG, type: 'ping', seq: ++this.#pingSeq });
  }

  message(message: ToWorker): void {
    this.channel.send(message);
  }

  /** Pass on a logged broadcast to this worker's cluster adapter, in the adapter's own form. */
  relayAdapter(message: AdapterRelay): void {
    this.channel.send(message);
  }
}

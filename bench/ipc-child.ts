/**
 * A helper process of the bench that speaks typed messages over IPC (the idle bench's clients,
 * the soak's load), in its own group tied to the bench's life. It says `{ type: 'hello' }` once
 * its handler is installed; every question waits a bounded time for its answer.
 */
import type { ChildProcess } from 'node:child_process';
import { ROOT } from './contenders';
import { spawnTied } from './lifeline';
import { ulimitPrefix } from './limits';

interface Typed {
  type: string;
}

export class IpcChild<To extends Typed, From extends Typed> {
  private readonly child: ChildProcess;
  private readonly cut: () => void;
  private exited: string | null = null;
  private readonly exitPromise: Promise<void>;
  private readonly hello: Promise<void>;

  /** Runs `entry` (TypeScript, through tsx's CJS hook) with an open-file limit of `fdLimit`. */
  constructor(
    private readonly name: string,
    entry: string,
    fdLimit: number,
  ) {
    const argv = [...ulimitPrefix(fdLimit), process.execPath, '--require', 'tsx/cjs', entry];
    ({ child: this.child, cut: this.cut } = spawnTied(argv[0] as string, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.exitPromise = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exited = signal ?? `code ${code}`;
        resolve();
      }),
    );
    this.hello = this.next('hello', 60_000).then(() => undefined);
    this.hello.catch(() => undefined); // ask() reports it
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Sends `msg` and waits (bounded) for the answer of type `answer`; an `error` message rejects. */
  async ask<T extends From['type']>(msg: To, answer: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    await this.hello;
    const reply = this.next(answer, timeoutMs);
    if (this.exited === null && this.child.connected) this.child.send(msg);
    return reply;
  }

  private next<T extends From['type']>(answer: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, m?: Extract<From, { type: T }>): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m as Extract<From, { type: T }>);
      };
      const onMessage = (raw: unknown): void => {
        const m = raw as From & { message?: string };
        if (m.type === 'error') done(new Error(`${this.name} ${this.pid}: ${m.message ?? 'error'}`));
        else if (m.type === answer) done(null, m as Extract<From, { type: T }>);
      };
      const onExit = (): void => done(new Error(`${this.name} ${this.pid} exited (${this.exited ?? '?'}) before '${answer}'`));
      const timer = setTimeout(() => done(new Error(`${this.name} ${this.pid}: no '${answer}' within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.exited === null) this.child.kill('SIGKILL');
    await this.exitPromise;
    this.cut();
  }
}

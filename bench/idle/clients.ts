/** The idle bench's client processes (client.ts), each in its own group tied to the bench. */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../contenders';
import { spawnTied } from '../lifeline';
import { ulimitPrefix } from '../limits';
import type { FromIdleClient, ToIdleClient } from './protocol';

const ENTRY = path.join(__dirname, 'client.ts');

export class IdleClient {
  private readonly child: ChildProcess;
  private readonly cut: () => void;
  private exited: string | null = null;
  private readonly exitPromise: Promise<void>;
  private readonly hello: Promise<void>;

  constructor(fdLimit: number) {
    const argv = [...ulimitPrefix(fdLimit), process.execPath, '--require', 'tsx/cjs', ENTRY];
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

  /** Sends `msg` and waits (bounded) for the answer of type `answer`. */
  async ask<T extends FromIdleClient['type']>(msg: ToIdleClient, answer: T, timeoutMs: number): Promise<Extract<FromIdleClient, { type: T }>> {
    await this.hello;
    const reply = this.next(answer, timeoutMs);
    if (this.exited === null && this.child.connected) this.child.send(msg);
    return reply;
  }

  private next<T extends FromIdleClient['type']>(answer: T, timeoutMs: number): Promise<Extract<FromIdleClient, { type: T }>> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, m?: Extract<FromIdleClient, { type: T }>): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m as Extract<FromIdleClient, { type: T }>);
      };
      const onMessage = (raw: unknown): void => {
        const m = raw as FromIdleClient;
        if (m.type === 'error') done(new Error(`idle client ${this.pid}: ${m.message}`));
        else if (m.type === answer) done(null, m as Extract<FromIdleClient, { type: T }>);
      };
      const onExit = (): void => done(new Error(`idle client ${this.pid} exited (${this.exited ?? '?'}) before '${answer}'`));
      const timer = setTimeout(() => done(new Error(`idle client ${this.pid}: no '${answer}' within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
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

  /** For exit handlers. */
  killNow(): void {
    this.cut();
  }
}

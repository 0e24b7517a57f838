/** The idle bench's client processes (client.ts). */
import path from 'node:path';
import { IpcChild } from '../ipc-child';
import type { FromIdleClient, ToIdleClient } from './protocol';

export class IdleClient extends IpcChild<ToIdleClient, FromIdleClient> {
  constructor(fdLimit: number) {
    super('idle client', path.join(__dirname, 'client.ts'), fdLimit);
  }
}

/**
 * Entry point of the load-generator process (forked by harness.ts). Runs one workload per
 * 'run' message and answers with its result; exits when the bench goes away.
 */
import type { FromClient, ToClient, WorkloadName, WorkloadParams, WorkloadResult } from '../types';
import { broadcast } from './broadcast';
import type { Mark } from './common';
import { echo } from './echo';
import { footprint } from './footprint';
import { handoffLatency } from './handoff';
import { handshake } from './handshake';
import { httpKeepAlive, httpNewConnections } from './http';

const WORKLOADS: Record<WorkloadName, (p: WorkloadParams, mark: Mark) => Promise<WorkloadResult>> = {
  'hs-polling': handshake,
  'hs-default': handshake,
  'hs-websocket': handshake,
  'echo-polling': echo,
  'echo-websocket': echo,
  broadcast,
  'http-keepalive': httpKeepAlive,
  'http-newconn': httpNewConnections,
  'handoff-latency': handoffLatency,
  'balance-one-ip': handshake,
  'balance-spread': handshake,
  footprint,
};

let markWaiter: (() => void) | null = null;

function send(msg: FromClient): void {
  if (process.connected) process.send?.(msg);
}

const mark: Mark = (name) =>
  new Promise<void>((resolve) => {
    markWaiter = resolve;
    send({ type: 'mark', name });
  });

process.on('message', (raw: unknown) => {
  const msg = raw as ToClient;
  if (msg.type === 'mark-ack') {
    const w = markWaiter;
    markWaiter = null;
    w?.();
    return;
  }
  WORKLOADS[msg.workload](msg.params, mark).then(
    (result) => send({ type: 'result', result }),
    (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});

// The bench died or let go: nothing left to do here.
process.on('disconnect', () => process.exit(0));

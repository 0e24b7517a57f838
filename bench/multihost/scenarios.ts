/** What bench/hosts.ts measures: one workload through nginx in front of one or two corral hosts. */
import type { WorkloadName } from '../types';
import type { Adapter } from './corral-host';

/** Stable ids, for --only and the JSON. */
export type ScenarioId = 'bc-1host-cluster' | 'bc-2hosts-streams' | 'bc-2hosts-redis' | 'poll-public' | 'poll-slot-ports';

/** One measured setup: which hosts, adapter and balancer routing, and the workload it runs. */
export interface Scenario {
  id: ScenarioId;
  /** Scenarios of one group share a table and a baseline. */
  group: 'broadcast' | 'polling';
  label: string;
  workload: WorkloadName;
  hosts: 1 | 2;
  adapter: Adapter;
  /** corral --slot-ports and lb-config --slot-ports --workers. */
  slotPorts: boolean;
  /** Ratios are against this scenario's rate. */
  baseline: ScenarioId;
}

/** Simulated hosts: same port, one loopback address each. */
export const HOSTS = [
  { id: 'h1', address: '127.0.1.1' },
  { id: 'h2', address: '127.0.1.2' },
] as const;

/** `--workers` of every host (as the single-machine bench). */
export const WORKERS_PER_HOST = 2;

/** In report order; each group's first scenario is its baseline. */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'bc-1host-cluster', group: 'broadcast', label: '(a) 1 host, --adapter cluster', workload: 'broadcast', hosts: 1, adapter: 'cluster', slotPorts: false, baseline: 'bc-1host-cluster' },
  { id: 'bc-2hosts-streams', group: 'broadcast', label: '(b) 2 hosts, --adapter redis-streams', workload: 'broadcast', hosts: 2, adapter: 'redis-streams', slotPorts: false, baseline: 'bc-1host-cluster' },
  { id: 'bc-2hosts-redis', group: 'broadcast', label: '(c) 2 hosts, --adapter redis', workload: 'broadcast', hosts: 2, adapter: 'redis', slotPorts: false, baseline: 'bc-1host-cluster' },
  { id: 'poll-public', group: 'polling', label: '(a) 2 hosts, nginx -> public ports', workload: 'echo-polling', hosts: 2, adapter: 'redis-streams', slotPorts: false, baseline: 'poll-public' },
  { id: 'poll-slot-ports', group: 'polling', label: '(b) 2 hosts, nginx -> --slot-ports', workload: 'echo-polling', hosts: 2, adapter: 'redis-streams', slotPorts: true, baseline: 'poll-public' },
];

/** The heading of each group's table. */
export const GROUP_TITLE: Record<Scenario['group'], string> = {
  broadcast: 'Broadcast through nginx: io.emit from one client, deliveries/s to every client (WebSocket)',
  polling: 'Echo over polling through nginx (2 hosts, redis-streams): acked round trips/s',
};

import { CorralError } from '../errors';
import { haproxyConfig } from './haproxy';
import type { LbPlan } from './hosts';
import { nginxConfig } from './nginx';

export { resolveLbPlan, type LbHost, type LbInput, type LbListen, type LbPlan, type LbSlotPorts } from './hosts';
export { haproxyConfig } from './haproxy';
export { nginxConfig } from './nginx';

/** The front balancers `corral lb-config` writes a configuration for. */
export const BALANCERS = ['nginx', 'haproxy'] as const;

/** One of {@link BALANCERS}. */
export type Balancer = (typeof BALANCERS)[number];

/** Check the balancer name, or throw `ERR_CORRAL_BAD_OPTION` listing the accepted ones. */
export function balancerOf(name: unknown): Balancer {
  if (typeof name === 'string' && (BALANCERS as readonly string[]).includes(name)) return name as Balancer;
  throw new CorralError('ERR_CORRAL_BAD_OPTION', `bad argument <balancer>: expected ${BALANCERS.map((b) => `"${b}"`).join(' or ')}, e.g. \`corral lb-config nginx --hosts ...\`, got ${JSON.stringify(name) ?? 'nothing'}.`);
}

/** The configuration text for `balancer`, from a validated plan. */
export function lbConfig(balancer: Balancer, plan: LbPlan): string {
  return balancer === 'nginx' ? nginxConfig(plan) : haproxyConfig(plan);
}

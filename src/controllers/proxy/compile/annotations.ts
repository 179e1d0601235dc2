// kube-router's per-service annotations (kube-router.io/service.*), read into typed settings. A bad value
// is a warning and the default, never a skipped service.
import type { ServiceModel } from '../../../model/types.js';
import type { Scheduler, SchedulerFlag } from './plan.js';

const PREFIX = 'kube-router.io/service.';
const SCHEDULERS: readonly Scheduler[] = ['rr', 'lc', 'dh', 'sh', 'mh'];

export interface ServiceSettings {
  readonly scheduler: Scheduler;
  readonly flags: readonly SchedulerFlag[];
  /** service.local: external traffic to local endpoints only (as externalTrafficPolicy: Local). */
  readonly local: boolean;
  readonly hairpin: boolean;
  readonly hairpinExternalIPs: boolean;
  readonly skipLoadBalancerIPs: boolean;
  /** service.dsr=tunnel: external and LoadBalancer IPs in direct server return over IPIP (compile/dsr.ts). */
  readonly dsr: boolean;
}

const truthy = (v: string | undefined): boolean => v !== undefined && ['true', '1', 'yes'].includes(v.trim().toLowerCase());

export function serviceSettings(svc: ServiceModel, warn: (msg: string) => void): ServiceSettings {
  const a = svc.annotations;
  const key = `${svc.namespace}/${svc.name}`;
  let scheduler: Scheduler = 'rr';
  const want = a[`${PREFIX}scheduler`];
  if (want !== undefined) {
    const s = want.trim().toLowerCase() as Scheduler;
    if (SCHEDULERS.includes(s)) scheduler = s;
    else warn(`service ${key}: ${PREFIX}scheduler=${JSON.stringify(want)} is not one of ${SCHEDULERS.join(', ')}; using rr`);
  }
  const flags: SchedulerFlag[] = [];
  const rawFlags = a[`${PREFIX}schedflags`];
  if (rawFlags !== undefined) {
    for (const f of rawFlags.split(',').map((x) => x.trim()).filter(Boolean)) {
      // flag-1 is the scheduler's fallback, flag-2 its port hashing; only sh and mh have them.
      const which = f === 'flag-1' ? 'fallback' : f === 'flag-2' ? 'port' : undefined;
      if (which && (scheduler === 'sh' || scheduler === 'mh')) flags.push(`${scheduler}-${which}`);
      else warn(`service ${key}: scheduler flag ${JSON.stringify(f)} does not apply to scheduler ${scheduler}; ignored`);
    }
  }
  const rawDsr = a[`${PREFIX}dsr`];
  const dsr = rawDsr !== undefined && rawDsr.trim().toLowerCase() === 'tunnel';
  if (rawDsr !== undefined && !dsr) warn(`service ${key}: ${PREFIX}dsr=${JSON.stringify(rawDsr)} is not "tunnel" (the only DSR method); served without DSR`);
  return {
    scheduler,
    flags: [...new Set(flags)].sort(),
    local: truthy(a[`${PREFIX}local`]),
    // As kube-router documents them: present (`kubectl annotate svc x kube-router.io/service.hairpin=`) is on.
    hairpin: a[`${PREFIX}hairpin`] !== undefined && a[`${PREFIX}hairpin`]!.trim().toLowerCase() !== 'false',
    hairpinExternalIPs: a[`${PREFIX}hairpin.externalips`] !== undefined && a[`${PREFIX}hairpin.externalips`]!.trim().toLowerCase() !== 'false',
    skipLoadBalancerIPs: truthy(a[`${PREFIX}skiplbips`]),
    dsr,
  };
}

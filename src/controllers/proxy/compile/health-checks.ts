// healthCheckNodePort (LoadBalancer services with externalTrafficPolicy: Local): which ports this node
// answers on and how many ready endpoints of each service it holds, so a cloud load balancer sends
// traffic only to nodes that can serve it without a second hop. Pure; apply/health-server.ts serves it.
import type { ClusterSnapshot } from '../../../model/types.js';
import { notServed } from './services.js';

export interface HealthCheck {
  readonly namespace: string;
  readonly name: string;
  /** Ready endpoints of the service on this node (kube-proxy's count, one per address). */
  readonly localEndpoints: number;
}

/** Keyed by port. Two services claiming one port (the API server forbids it): the first by name wins. */
export function compileHealthChecks(s: ClusterSnapshot, nodeName: string, skipped: (msg: string) => void = () => undefined): Map<number, HealthCheck> {
  const out = new Map<number, HealthCheck>();
  const local = new Map<string, Set<string>>();
  for (const slice of s.endpointSlices.values()) {
    if (slice.addressType === 'FQDN') continue;
    const k = `${slice.namespace}/${slice.serviceName}`;
    for (const ep of slice.endpoints) {
      if (!ep.ready || ep.nodeName !== nodeName || !ep.addresses[0]) continue;
      let set = local.get(k);
      if (!set) local.set(k, (set = new Set()));
      set.add(ep.addresses[0]);
    }
  }
  const services = [...s.services.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  for (const svc of services) {
    const port = svc.healthCheckNodePort;
    if (port === undefined || svc.externalTrafficPolicy !== 'Local' || notServed(svc)) continue;
    const key = `${svc.namespace}/${svc.name}`;
    const have = out.get(port);
    if (have) {
      skipped(`service ${key}: healthCheckNodePort ${port} is already served for ${have.namespace}/${have.name}`);
      continue;
    }
    out.set(port, { namespace: svc.namespace, name: svc.name, localEndpoints: local.get(key)?.size ?? 0 });
  }
  return out;
}

import type { Labels, ServiceModel, ServicePortModel, ServiceType, TrafficPolicy } from '../types.js';
import {
  ipAt,
  ipList,
  isObject,
  labelMap,
  oneOf,
  optArray,
  optInt,
  optObject,
  optPort,
  optString,
  portNumber,
  portOrName,
  protocolOf,
  readMeta,
} from './fields.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

const TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
/** The API's own default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

function trafficPolicy(v: unknown, path: string): TrafficPolicy {
  // "Global" is the pre-1.21 spelling of Cluster; old objects stored in etcd still carry it.
  if (v === 'Global') return 'Cluster';
  return oneOf<TrafficPolicy>(v, path, ['Cluster', 'Local'], 'Cluster');
}

/** core/v1 Service -> ServiceModel, with the API server's defaults applied. */
export function normalizeService(raw: unknown): NormalizeResult<ServiceModel> {
  return normalizeWith(() => {
    const meta = readMeta(raw, true);
    const obj = raw as Record<string, unknown>;
    const spec = optObject(obj['spec'], 'spec') ?? {};
    const status = optObject(obj['status'], 'status') ?? {};
    const type = oneOf(spec['type'], 'spec.type', TYPES, 'ClusterIP');

    // clusterIPs wins; clusterIP is its first element on older servers. "None" marks a headless service.
    let rawIPs = optArray(spec['clusterIPs'], 'spec.clusterIPs');
    let ipsPath = 'spec.clusterIPs';
    if (rawIPs.length === 0) {
      const single = optString(spec['clusterIP'], 'spec.clusterIP');
      rawIPs = single ? [single] : [];
      ipsPath = 'spec.clusterIP';
    }
    const headless = type !== 'ExternalName' && rawIPs.includes('None');
    const clusterIPs: string[] = [];
    if (type !== 'ExternalName') {
      rawIPs.forEach((ip, i) => {
        if (ip === 'None' || ip === '') return;
        const canon = ipAt(ip, ipsPath === 'spec.clusterIPs' ? `${ipsPath}[${i}]` : ipsPath);
        if (!clusterIPs.includes(canon)) clusterIPs.push(canon);
      });
    }

    const loadBalancerIPs: string[] = [];
    const lb = optObject(status['loadBalancer'], 'status.loadBalancer');
    optArray(lb?.['ingress'], 'status.loadBalancer.ingress').forEach((ing, i) => {
      const at = `status.loadBalancer.ingress[${i}]`;
      if (!isObject(ing)) reject('invalid_field', `${at}: expected an object`);
      // ipMode Proxy means a proxy in front forwards to nodes; the VIP must not be claimed locally.
      if (ing['ipMode'] === 'Proxy') return;
      const ip = optString(ing['ip'], `${at}.ip`);
      if (!ip) return; // hostname-only ingress
      const canon = ipAt(ip, `${at}.ip`);
      if (!loadBalancerIPs.includes(canon)) loadBalancerIPs.push(canon);
    });

    const ports: ServicePortModel[] = [];
    optArray(spec['ports'], 'spec.ports').forEach((p, i) => {
      const at = `spec.ports[${i}]`;
      if (!isObject(p)) reject('invalid_field', `${at}: expected an object`);
      const port = portNumber(p['port'], `${at}.port`);
      const tp = p['targetPort'];
      // targetPort defaults to port when absent or zero, as the API server defaults it.
      const targetPort = tp === undefined || tp === null || tp === 0 || tp === '' ? port : portOrName(tp, `${at}.targetPort`);
      const nodePort = optPort(p['nodePort'], `${at}.nodePort`);
      ports.push({
        name: optString(p['name'], `${at}.name`) ?? '',
        protocol: protocolOf(p['protocol'], `${at}.protocol`),
        port,
        targetPort,
        ...(nodePort !== undefined ? { nodePort } : {}),
      });
    });

    const sel: Labels = labelMap(spec['selector'], 'spec.selector');
    const sessionAffinity = oneOf<'None' | 'ClientIP'>(spec['sessionAffinity'], 'spec.sessionAffinity', ['None', 'ClientIP'], 'None');
    let timeout: number | undefined;
    if (sessionAffinity === 'ClientIP') {
      const cfg = optObject(spec['sessionAffinityConfig'], 'spec.sessionAffinityConfig');
      const cip = optObject(cfg?.['clientIP'], 'spec.sessionAffinityConfig.clientIP');
      timeout =
        optInt(cip?.['timeoutSeconds'], 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', 1, 86_400) ??
        DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    }
    const hc = optPort(spec['healthCheckNodePort'], 'spec.healthCheckNodePort');

    const svc: ServiceModel = {
      namespace: meta.namespace,
      name: meta.name,
      uid: meta.uid,
      type,
      labels: meta.labels,
      annotations: meta.annotations,
      clusterIPs,
      headless,
      externalIPs: ipList(spec['externalIPs'], 'spec.externalIPs'),
      loadBalancerIPs,
      ports,
      // An empty selector serializes the same as none (omitempty), so both mean "endpoints managed elsewhere".
      ...(Object.keys(sel).length > 0 ? { selector: sel } : {}),
      sessionAffinity,
      ...(timeout !== undefined ? { sessionAffinityTimeoutSeconds: timeout } : {}),
      externalTrafficPolicy: trafficPolicy(spec['externalTrafficPolicy'], 'spec.externalTrafficPolicy'),
      internalTrafficPolicy: trafficPolicy(spec['internalTrafficPolicy'], 'spec.internalTrafficPolicy'),
      ...(hc !== undefined ? { healthCheckNodePort: hc } : {}),
    };
    return svc;
  });
}

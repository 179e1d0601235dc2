import type { ContainerPortModel, PodModel, PodPhase } from '../types.js';
import {
  ipAt,
  isObject,
  oneOf,
  optArray,
  optBool,
  optInt,
  optObject,
  optPort,
  optString,
  portNumber,
  protocolOf,
  readMeta,
} from './fields.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

const PHASES: readonly PodPhase[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

/** core/v1 Pod -> PodModel. */
export function normalizePod(raw: unknown): NormalizeResult<PodModel> {
  return normalizeWith(() => {
    const meta = readMeta(raw, true);
    const obj = raw as Record<string, unknown>;
    const spec = optObject(obj['spec'], 'spec') ?? {};
    const status = optObject(obj['status'], 'status') ?? {};

    // status.podIPs is authoritative (dual-stack); status.podIP is its first entry on older servers.
    const podIPs: string[] = [];
    const listed = optArray(status['podIPs'], 'status.podIPs');
    if (listed.length > 0) {
      listed.forEach((entry, i) => {
        if (!isObject(entry)) reject('invalid_field', `status.podIPs[${i}]: expected an object`);
        const ip = ipAt(entry['ip'], `status.podIPs[${i}].ip`);
        if (!podIPs.includes(ip)) podIPs.push(ip);
      });
    } else {
      const single = optString(status['podIP'], 'status.podIP');
      if (single) podIPs.push(ipAt(single, 'status.podIP'));
    }
    const hostIPText = optString(status['hostIP'], 'status.hostIP');

    const ports: ContainerPortModel[] = [];
    optArray(spec['containers'], 'spec.containers').forEach((c, i) => {
      const at = `spec.containers[${i}]`;
      if (!isObject(c)) reject('invalid_field', `${at}: expected an object`);
      optArray(c['ports'], `${at}.ports`).forEach((p, j) => {
        const pat = `${at}.ports[${j}]`;
        if (!isObject(p)) reject('invalid_field', `${pat}: expected an object`);
        const port: ContainerPortModel = {
          containerPort: portNumber(p['containerPort'], `${pat}.containerPort`),
          protocol: protocolOf(p['protocol'], `${pat}.protocol`),
        };
        const name = optString(p['name'], `${pat}.name`);
        const hostPort = optPort(p['hostPort'], `${pat}.hostPort`);
        ports.push({
          ...(name ? { name } : {}),
          ...port,
          ...(hostPort !== undefined ? { hostPort } : {}),
        });
      });
    });

    const nodeName = optString(spec['nodeName'], 'spec.nodeName');
    const grace = optInt(spec['terminationGracePeriodSeconds'], 'spec.terminationGracePeriodSeconds', 0, Number.MAX_SAFE_INTEGER);
    const pod: PodModel = {
      namespace: meta.namespace,
      name: meta.name,
      uid: meta.uid,
      labels: meta.labels,
      annotations: meta.annotations,
      ...(nodeName ? { nodeName } : {}),
      hostNetwork: optBool(spec['hostNetwork'], 'spec.hostNetwork') ?? false,
      // A pod the kubelet has not reported on yet has no phase; the API reports it as Pending.
      phase: oneOf(status['phase'], 'status.phase', PHASES, 'Pending'),
      podIPs,
      ...(hostIPText ? { hostIP: ipAt(hostIPText, 'status.hostIP') } : {}),
      ports,
      ...(grace !== undefined ? { terminationGracePeriodSeconds: grace } : {}),
      deleting: meta.deleting,
    };
    return pod;
  });
}

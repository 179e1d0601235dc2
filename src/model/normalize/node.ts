import type { NodeModel } from '../types.js';
import { canonicalCIDR } from './cidr.js';
import { ipAt, isObject, optArray, optBool, optObject, optString, readMeta } from './fields.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

/** core/v1 Node -> NodeModel. */
export function normalizeNode(raw: unknown): NormalizeResult<NodeModel> {
  return normalizeWith(() => {
    const meta = readMeta(raw, false);
    const obj = raw as Record<string, unknown>;
    const spec = optObject(obj['spec'], 'spec') ?? {};
    const status = optObject(obj['status'], 'status') ?? {};

    const internalIPs: string[] = [];
    const externalIPs: string[] = [];
    optArray(status['addresses'], 'status.addresses').forEach((a, i) => {
      const at = `status.addresses[${i}]`;
      if (!isObject(a)) reject('invalid_field', `${at}: expected an object`);
      const type = optString(a['type'], `${at}.type`);
      // Hostname and InternalDNS/ExternalDNS entries are names, not addresses; only IP types matter here.
      if (type !== 'InternalIP' && type !== 'ExternalIP') return;
      const ip = ipAt(a['address'], `${at}.address`);
      const list = type === 'InternalIP' ? internalIPs : externalIPs;
      if (!list.includes(ip)) list.push(ip);
    });

    const rawCIDRs = optArray(spec['podCIDRs'], 'spec.podCIDRs');
    const cidrPath = rawCIDRs.length > 0 ? 'spec.podCIDRs' : 'spec.podCIDR';
    const cidrSource = rawCIDRs.length > 0 ? rawCIDRs : [optString(spec['podCIDR'], 'spec.podCIDR')].filter((c) => c);
    const podCIDRs: string[] = [];
    cidrSource.forEach((c, i) => {
      const canon = canonicalCIDR(c);
      if (!canon) reject('invalid_cidr', `${cidrPath}${rawCIDRs.length > 0 ? `[${i}]` : ''}: invalid CIDR ${JSON.stringify(c)}`);
      if (!podCIDRs.includes(canon)) podCIDRs.push(canon);
    });

    let ready = false;
    optArray(status['conditions'], 'status.conditions').forEach((c, i) => {
      if (!isObject(c)) reject('invalid_field', `status.conditions[${i}]: expected an object`);
      if (c['type'] === 'Ready') ready = c['status'] === 'True';
    });

    const node: NodeModel = {
      name: meta.name,
      uid: meta.uid,
      labels: meta.labels,
      annotations: meta.annotations,
      internalIPs,
      externalIPs,
      podCIDRs,
      unschedulable: optBool(spec['unschedulable'], 'spec.unschedulable') ?? false,
      ready,
    };
    const primaryIP = internalIPs[0] ?? externalIPs[0];
    return primaryIP === undefined ? node : { ...node, primaryIP };
  });
}

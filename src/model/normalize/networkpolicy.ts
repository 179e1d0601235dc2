import type { NetworkPolicyModel, PolicyPeer, PolicyPort, PolicyRule, PolicyType } from '../types.js';
import { cidrContains, parseCIDR } from './cidr.js';
import { isObject, optArray, optInt, optObject, portOrName, protocolOf, readMeta, type Raw } from './fields.js';
import { readLabelSelector } from './selector.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

type Warn = (message: string) => void;

function readIPBlock(block: Raw, at: string, warn: Warn): PolicyPeer {
  const cidr = parseCIDR(block['cidr']);
  if (!cidr) reject('invalid_cidr', `${at}.cidr: invalid CIDR ${JSON.stringify(block['cidr'] ?? null)}`);
  const except: string[] = [];
  optArray(block['except'], `${at}.except`).forEach((e, i) => {
    const ex = parseCIDR(e);
    if (!ex) reject('invalid_cidr', `${at}.except[${i}]: invalid CIDR ${JSON.stringify(e)}`);
    // The API requires a strict subset. kube-router enforces the rest of such a policy, so we drop only this
    // entry (with a warning) instead of losing the whole policy: dropping an except can only allow more of
    // what the same ipBlock already allows, never something the user did not list.
    if (ex.prefix <= cidr.prefix || !cidrContains(cidr, ex)) {
      warn(`${at}.except[${i}]: ${ex.text} is not strictly inside ${cidr.text}; entry ignored`);
      return;
    }
    if (!except.includes(ex.text)) except.push(ex.text);
  });
  return { kind: 'ipBlock', cidr: cidr.text, family: cidr.family, except };
}

function readPeer(raw: unknown, at: string, warn: Warn): PolicyPeer {
  if (!isObject(raw)) reject('invalid_field', `${at}: expected an object`);
  const ipBlock = optObject(raw['ipBlock'], `${at}.ipBlock`);
  const hasPods = raw['podSelector'] !== undefined && raw['podSelector'] !== null;
  const hasNs = raw['namespaceSelector'] !== undefined && raw['namespaceSelector'] !== null;
  if (ipBlock) {
    if (hasPods || hasNs) reject('invalid_field', `${at}: ipBlock cannot be combined with podSelector or namespaceSelector`);
    return readIPBlock(ipBlock, `${at}.ipBlock`, warn);
  }
  if (!hasPods && !hasNs) reject('missing_field', `${at}: a peer needs podSelector, namespaceSelector or ipBlock`);
  return {
    kind: 'pods',
    ...(hasPods ? { podSelector: readLabelSelector(raw['podSelector'], `${at}.podSelector`) } : {}),
    ...(hasNs ? { namespaceSelector: readLabelSelector(raw['namespaceSelector'], `${at}.namespaceSelector`) } : {}),
  };
}

function readPort(raw: unknown, at: string): PolicyPort {
  if (!isObject(raw)) reject('invalid_field', `${at}: expected an object`);
  const protocol = protocolOf(raw['protocol'], `${at}.protocol`);
  const rawPort = raw['port'];
  const port = rawPort === undefined || rawPort === null ? undefined : portOrName(rawPort, `${at}.port`);
  const rawEnd = raw['endPort'];
  if (rawEnd === undefined || rawEnd === null) return port === undefined ? { protocol } : { protocol, port };
  if (port === undefined) reject('invalid_port', `${at}.endPort: endPort requires port`);
  if (typeof port === 'string') reject('invalid_port', `${at}.endPort: endPort cannot be used with named port ${JSON.stringify(port)}`);
  const endPort = optInt(rawEnd, `${at}.endPort`, 1, 65535);
  if (endPort === undefined) reject('invalid_port', `${at}.endPort: invalid`);
  if (endPort < port) reject('invalid_port', `${at}.endPort: ${endPort} is less than port ${port}`);
  return { protocol, port, endPort };
}

function readRules(v: unknown, path: string, peersField: string, warn: Warn): PolicyRule[] {
  return optArray(v, path).map((r, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(r)) reject('invalid_field', `${at}: expected an object (an empty rule is {})`);
    // client-node model classes rename `from` to `_from`; plain JSON has `from`.
    const rawPeers = r[peersField] ?? (peersField === 'from' ? r['_from'] : undefined);
    const peers = optArray(rawPeers, `${at}.${peersField}`).map((p, j) => readPeer(p, `${at}.${peersField}[${j}]`, warn));
    const ports = optArray(r['ports'], `${at}.ports`).map((p, j) => readPort(p, `${at}.ports[${j}]`));
    return { peers, ports };
  });
}

/** networking/v1 NetworkPolicy -> NetworkPolicyModel, with policyTypes defaulted as the API server does. */
export function normalizeNetworkPolicy(raw: unknown): NormalizeResult<NetworkPolicyModel> {
  return normalizeWith((warn) => {
    const meta = readMeta(raw, true);
    const spec = optObject((raw as Raw)['spec'], 'spec') ?? {};
    const podSelector = readLabelSelector(spec['podSelector'], 'spec.podSelector');
    const ingress = readRules(spec['ingress'], 'spec.ingress', 'from', warn);
    const egress = readRules(spec['egress'], 'spec.egress', 'to', warn);

    const given = optArray(spec['policyTypes'], 'spec.policyTypes');
    let policyTypes: PolicyType[];
    if (given.length > 0) {
      given.forEach((t, i) => {
        if (t !== 'Ingress' && t !== 'Egress') {
          reject('invalid_field', `spec.policyTypes[${i}]: must be Ingress or Egress, got ${JSON.stringify(t)}`);
        }
      });
      // A fixed order keeps "Egress,Ingress" and "Ingress,Egress" from looking like a change.
      policyTypes = (['Ingress', 'Egress'] as const).filter((t) => given.includes(t));
    } else {
      policyTypes = egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    }
    return { namespace: meta.namespace, name: meta.name, uid: meta.uid, podSelector, policyTypes, ingress, egress };
  });
}

import { V1NetworkPolicyIngressRule } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RejectCode } from './result.js';
import {
  normalizeEndpointSlice,
  normalizeNamespace,
  normalizeNetworkPolicy,
  normalizeNode,
  normalizePod,
  normalizeService,
} from './index.js';

type Patch = (o: any) => void;
/** Applies a mutation to a deep copy of a valid fixture, so each malformed case differs in one place. */
function variant(base: unknown, patch: Patch): unknown {
  const copy = structuredClone(base);
  patch(copy);
  return copy;
}

function expectReject(r: { ok: boolean }, code: RejectCode, reason: string) {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  const rej = r as unknown as { reason: string; code: RejectCode };
  expect(rej.reason).toContain(reason);
  expect(rej.code).toBe(code);
}

const node = {
  metadata: { name: 'n1', uid: 'u1', labels: { zone: 'a' }, annotations: { x: 'y' }, resourceVersion: '5' },
  spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.7/24', 'fd00:1::/64'] },
  status: {
    addresses: [
      { type: 'Hostname', address: 'n1' },
      { type: 'ExternalIP', address: '203.0.113.5' },
      { type: 'InternalIP', address: '192.168.0.11' },
      { type: 'InternalIP', address: 'FD00::11' },
    ],
    conditions: [
      { type: 'MemoryPressure', status: 'False' },
      { type: 'Ready', status: 'True' },
    ],
  },
};

describe('normalizeNode', () => {
  it('builds the model with canonical addresses and pod CIDRs', () => {
    const r = normalizeNode(node);
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: {
        name: 'n1',
        uid: 'u1',
        labels: { zone: 'a' },
        annotations: { x: 'y' },
        internalIPs: ['192.168.0.11', 'fd00::11'],
        externalIPs: ['203.0.113.5'],
        primaryIP: '192.168.0.11',
        podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'],
        unschedulable: false,
        ready: true,
      },
    });
  });
  it('falls back to ExternalIP, podCIDR, and not-ready defaults', () => {
    const r = normalizeNode({
      metadata: { name: 'n2' },
      spec: { podCIDR: '10.244.2.0/24', unschedulable: true },
      status: { addresses: [{ type: 'ExternalIP', address: '198.51.100.1' }] },
    });
    expect(r.ok && r.value).toMatchObject({
      primaryIP: '198.51.100.1',
      podCIDRs: ['10.244.2.0/24'],
      ready: false,
      unschedulable: true,
      uid: '',
    });
    const bare = normalizeNode({ metadata: { name: 'n3' } });
    expect(bare.ok && bare.value.primaryIP).toBeUndefined();
    expect(bare.ok && bare.value.podCIDRs).toEqual([]);
  });
  it.each<[string, Patch, RejectCode, string]>([
    ['no name', (o) => delete o.metadata.name, 'missing_metadata', 'metadata.name'],
    ['no metadata', (o) => delete o.metadata, 'missing_metadata', 'metadata is missing'],
    ['bad InternalIP', (o) => (o.status.addresses[2].address = '192.168.0.300'), 'invalid_ip', 'status.addresses[2].address'],
    ['bad podCIDRs', (o) => (o.spec.podCIDRs[1] = 'fd00:1::/200'), 'invalid_cidr', 'spec.podCIDRs[1]'],
    ['bad podCIDR', (o) => ((o.spec.podCIDRs = []), (o.spec.podCIDR = '10.0.0.1')), 'invalid_cidr', 'spec.podCIDR'],
    ['labels not strings', (o) => (o.metadata.labels.zone = 3), 'invalid_field', 'metadata.labels["zone"]'],
    ['addresses not array', (o) => (o.status.addresses = 'x'), 'invalid_field', 'status.addresses'],
  ])('rejects %s', (_n, patch, code, reason) => {
    expectReject(normalizeNode(variant(node, patch)), code, reason);
  });
  it.each([null, 'node', 42, []])('rejects non-object %j', (raw) => {
    expectReject(normalizeNode(raw), 'not_object', 'expected an object');
  });
});

describe('normalizeNamespace', () => {
  it('keeps labels', () => {
    expect(normalizeNamespace({ metadata: { name: 'ns1', uid: 'u', labels: { team: 'a' } } })).toEqual({
      ok: true,
      warnings: [],
      value: { name: 'ns1', uid: 'u', labels: { team: 'a' } },
    });
  });
  it('rejects a missing name', () => {
    expectReject(normalizeNamespace({ metadata: { labels: {} } }), 'missing_metadata', 'metadata.name');
  });
});

const pod = {
  metadata: { name: 'p1', namespace: 'default', uid: 'pu', labels: { app: 'web' } },
  spec: {
    nodeName: 'n1',
    containers: [
      { name: 'c1', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 0 }] },
      { name: 'c2', ports: [{ containerPort: 9090, protocol: 'SCTP', hostPort: 19090 }] },
    ],
    initContainers: [{ name: 'init', ports: [{ containerPort: 1 }] }],
    terminationGracePeriodSeconds: 30,
  },
  status: {
    phase: 'Running',
    hostIP: '192.168.0.11',
    podIP: '10.244.1.5',
    podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00:1:0::5' }],
  },
};

describe('normalizePod', () => {
  it('reads IPs, ports and defaults', () => {
    const r = normalizePod(pod);
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: {
        namespace: 'default',
        name: 'p1',
        uid: 'pu',
        labels: { app: 'web' },
        annotations: {},
        nodeName: 'n1',
        hostNetwork: false,
        phase: 'Running',
        podIPs: ['10.244.1.5', 'fd00:1::5'],
        hostIP: '192.168.0.11',
        ports: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
          { containerPort: 9090, protocol: 'SCTP', hostPort: 19090 },
        ],
        terminationGracePeriodSeconds: 30,
        deleting: false,
      },
    });
  });
  it('uses status.podIP without podIPs, Pending without phase, and sees deletion', () => {
    const r = normalizePod({
      metadata: { name: 'p2', namespace: 'x', deletionTimestamp: '2025-01-01T00:00:00Z' },
      spec: { hostNetwork: true },
      status: { podIP: '10.0.0.9' },
    });
    expect(r.ok && r.value).toMatchObject({ podIPs: ['10.0.0.9'], phase: 'Pending', hostNetwork: true, deleting: true });
    const dateTyped = normalizePod({ metadata: { name: 'p3', namespace: 'x', deletionTimestamp: new Date() } });
    expect(dateTyped.ok && dateTyped.value.deleting).toBe(true);
    const noIP = normalizePod({ metadata: { name: 'p4', namespace: 'x' } });
    expect(noIP.ok && noIP.value.podIPs).toEqual([]);
  });
  it.each<[string, Patch, RejectCode, string]>([
    ['no namespace', (o) => delete o.metadata.namespace, 'missing_metadata', 'metadata.namespace'],
    ['empty name', (o) => (o.metadata.name = ''), 'missing_metadata', 'metadata.name'],
    ['bad podIPs', (o) => (o.status.podIPs[1].ip = 'fd00::zz'), 'invalid_ip', 'status.podIPs[1].ip'],
    ['bad podIP', (o) => ((o.status.podIPs = undefined), (o.status.podIP = '10.1')), 'invalid_ip', 'status.podIP'],
    ['bad hostIP', (o) => (o.status.hostIP = 'node1'), 'invalid_ip', 'status.hostIP'],
    ['port 0', (o) => (o.spec.containers[0].ports[0].containerPort = 0), 'invalid_port', 'spec.containers[0].ports[0].containerPort'],
    ['port 70000', (o) => (o.spec.containers[1].ports[0].containerPort = 70000), 'invalid_port', 'containers[1].ports[0]'],
    ['hostPort 65536', (o) => (o.spec.containers[1].ports[0].hostPort = 65536), 'invalid_port', 'hostPort'],
    ['bad protocol', (o) => (o.spec.containers[0].ports[1].protocol = 'tcp'), 'invalid_protocol', 'ports[1].protocol'],
    ['bad phase', (o) => (o.status.phase = 'Sleeping'), 'invalid_field', 'status.phase'],
    ['containers not array', (o) => (o.spec.containers = {}), 'invalid_field', 'spec.containers'],
  ])('rejects %s', (_n, patch, code, reason) => {
    expectReject(normalizePod(variant(pod, patch)), code, reason);
  });
});

const service = {
  metadata: { name: 's1', namespace: 'default', uid: 'su' },
  spec: {
    type: 'LoadBalancer',
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10', 'fd00:96::000a'],
    externalIPs: ['198.51.100.7'],
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
      { name: 'plain', port: 8080 },
    ],
    sessionAffinity: 'ClientIP',
    externalTrafficPolicy: 'Local',
    healthCheckNodePort: 32000,
  },
  status: {
    loadBalancer: {
      ingress: [{ ip: '203.0.113.10' }, { ip: '203.0.113.11', ipMode: 'Proxy' }, { hostname: 'lb.example' }, { ip: '203.0.113.12', ipMode: 'VIP' }],
    },
  },
};

describe('normalizeService', () => {
  it('applies API defaults and reads all addresses', () => {
    const r = normalizeService(service);
    expect(r).toEqual({
      ok: true,
      warnings: [],
      value: {
        namespace: 'default',
        name: 's1',
        uid: 'su',
        type: 'LoadBalancer',
        labels: {},
        annotations: {},
        clusterIPs: ['10.96.0.10', 'fd00:96::a'],
        headless: false,
        externalIPs: ['198.51.100.7'],
        loadBalancerIPs: ['203.0.113.10', '203.0.113.12'],
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 30080 },
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
          { name: 'plain', protocol: 'TCP', port: 8080, targetPort: 8080 },
        ],
        selector: { app: 'web' },
        sessionAffinity: 'ClientIP',
        sessionAffinityTimeoutSeconds: 10800,
        externalTrafficPolicy: 'Local',
        internalTrafficPolicy: 'Cluster',
        healthCheckNodePort: 32000,
      },
    });
  });
  it('gives the same model whether or not the server defaulted', () => {
    const undefaulted = { metadata: { name: 's', namespace: 'n' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 443 }], selector: {} } };
    const defaulted = {
      metadata: { name: 's', namespace: 'n' },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.0.1',
        clusterIPs: ['10.96.0.1'],
        ports: [{ name: '', port: 443, protocol: 'TCP', targetPort: 443 }],
        sessionAffinity: 'None',
        internalTrafficPolicy: 'Cluster',
      },
    };
    const a = normalizeService(undefaulted);
    const b = normalizeService(defaulted);
    expect(a.ok).toBe(true);
    expect(a).toEqual(b);
    expect(a.ok && a.value.selector).toBeUndefined();
  });
  it('handles headless and ExternalName services', () => {
    const headless = normalizeService({ metadata: { name: 'h', namespace: 'n' }, spec: { clusterIP: 'None', selector: { a: 'b' } } });
    expect(headless.ok && headless.value).toMatchObject({ headless: true, clusterIPs: [] });
    const ext = normalizeService({
      metadata: { name: 'e', namespace: 'n' },
      spec: { type: 'ExternalName', externalName: 'db.example', clusterIP: '' },
    });
    expect(ext.ok && ext.value).toMatchObject({ type: 'ExternalName', headless: false, clusterIPs: [], ports: [] });
  });
  it.each<[string, Patch, RejectCode, string]>([
    ['bad clusterIPs', (o) => (o.spec.clusterIPs[1] = 'fd00::96::1'), 'invalid_ip', 'spec.clusterIPs[1]'],
    ['bad clusterIP', (o) => ((o.spec.clusterIPs = undefined), (o.spec.clusterIP = '10.96.0')), 'invalid_ip', 'spec.clusterIP'],
    ['bad externalIP', (o) => (o.spec.externalIPs = ['x']), 'invalid_ip', 'spec.externalIPs[0]'],
    ['bad LB ingress ip', (o) => (o.status.loadBalancer.ingress[0].ip = '300.0.0.1'), 'invalid_ip', 'status.loadBalancer.ingress[0].ip'],
    ['port 0', (o) => (o.spec.ports[0].port = 0), 'invalid_port', 'spec.ports[0].port'],
    ['port missing', (o) => delete o.spec.ports[2].port, 'invalid_port', 'spec.ports[2].port'],
    ['targetPort out of range', (o) => (o.spec.ports[1].targetPort = 65536), 'invalid_port', 'spec.ports[1].targetPort'],
    ['bad targetPort name', (o) => (o.spec.ports[0].targetPort = 'not valid!'), 'invalid_port', 'invalid port name'],
    ['nodePort out of range', (o) => (o.spec.ports[0].nodePort = -1), 'invalid_port', 'nodePort'],
    ['bad protocol', (o) => (o.spec.ports[1].protocol = 'ICMP'), 'invalid_protocol', 'spec.ports[1].protocol'],
    ['bad type', (o) => (o.spec.type = 'Magic'), 'invalid_field', 'spec.type'],
    ['bad affinity', (o) => (o.spec.sessionAffinity = 'Cookie'), 'invalid_field', 'spec.sessionAffinity'],
    ['bad traffic policy', (o) => (o.spec.externalTrafficPolicy = 'Nearest'), 'invalid_field', 'spec.externalTrafficPolicy'],
    ['selector not strings', (o) => (o.spec.selector = { app: ['web'] }), 'invalid_field', 'spec.selector'],
    ['no namespace', (o) => delete o.metadata.namespace, 'missing_metadata', 'metadata.namespace'],
  ])('rejects %s', (_n, patch, code, reason) => {
    expectReject(normalizeService(variant(service, patch)), code, reason);
  });
});

const slice = {
  metadata: { name: 's1-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 's1' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'all' }, { port: 53, protocol: 'UDP' }],
  endpoints: [
    { addresses: ['10.244.1.5'], conditions: { ready: true }, nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p1', namespace: 'default' } },
    { addresses: ['10.244.2.6'], conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod', name: 'p2' } },
    { addresses: ['10.244.3.7'] },
  ],
};

describe('normalizeEndpointSlice', () => {
  it('reads endpoints with condition defaults', () => {
    expect(normalizeEndpointSlice(slice)).toEqual({
      ok: true,
      warnings: [],
      value: {
        namespace: 'default',
        name: 's1-abc',
        serviceName: 's1',
        addressType: 'IPv4',
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP' },
          { name: '', port: 53, protocol: 'UDP' },
        ],
        endpoints: [
          { addresses: ['10.244.1.5'], ready: true, serving: true, terminating: false, nodeName: 'n1', targetPod: { namespace: 'default', name: 'p1' } },
          { addresses: ['10.244.2.6'], ready: false, serving: true, terminating: true, targetPod: { namespace: 'default', name: 'p2' } },
          { addresses: ['10.244.3.7'], ready: true, serving: true, terminating: false },
        ],
      },
    });
  });
  it('canonicalizes IPv6 and lowercases FQDN', () => {
    const v6 = normalizeEndpointSlice(variant(slice, (o) => ((o.addressType = 'IPv6'), (o.endpoints = [{ addresses: ['FD00::0:5'] }]))));
    expect(v6.ok && v6.value.endpoints[0]!.addresses).toEqual(['fd00::5']);
    const fqdn = normalizeEndpointSlice(variant(slice, (o) => ((o.addressType = 'FQDN'), (o.endpoints = [{ addresses: ['DB.Example'] }]))));
    expect(fqdn.ok && fqdn.value.endpoints[0]!.addresses).toEqual(['db.example']);
  });
  it.each<[string, Patch, RejectCode, string]>([
    ['no service-name label', (o) => (o.metadata.labels = {}), 'missing_field', 'kubernetes.io/service-name'],
    ['no addressType', (o) => delete o.addressType, 'missing_field', 'addressType'],
    ['bad addressType', (o) => (o.addressType = 'IPv5'), 'invalid_field', 'addressType'],
    ['bad endpoint IP', (o) => (o.endpoints[1].addresses = ['10.244.2']), 'invalid_ip', 'endpoints[1].addresses[0]'],
    ['wrong family', (o) => (o.endpoints[0].addresses = ['fd00::1']), 'invalid_ip', 'is not an IPv4 address'],
    ['no addresses', (o) => (o.endpoints[2].addresses = []), 'missing_field', 'endpoints[2].addresses'],
    ['bad port', (o) => (o.ports[0].port = 99999), 'invalid_port', 'ports[0].port'],
    ['bad protocol', (o) => (o.ports[2].protocol = 'udp'), 'invalid_protocol', 'ports[2].protocol'],
    ['ready not boolean', (o) => (o.endpoints[0].conditions.ready = 'yes'), 'invalid_field', 'endpoints[0].conditions.ready'],
  ])('rejects %s', (_n, patch, code, reason) => {
    expectReject(normalizeEndpointSlice(variant(slice, patch)), code, reason);
  });
});

const policy = {
  metadata: { name: 'np1', namespace: 'default', uid: 'nu' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [
      {
        from: [
          { podSelector: { matchLabels: { role: 'client' } } },
          { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] }, podSelector: {} },
          { ipBlock: { cidr: '10.1.2.3/16', except: ['10.1.5.0/24', '10.2.0.0/24', '10.1.0.0/16', 'fd00::/64'] } },
        ],
        ports: [{ port: 80 }, { protocol: 'UDP', port: 'dns' }, { port: 30000, endPort: 32767 }, { protocol: 'SCTP' }, { port: '8443' }],
      },
      {},
    ],
    egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
  },
};

describe('normalizeNetworkPolicy', () => {
  it('reads peers and ports, drops bad excepts with a warning, defaults policyTypes', () => {
    const r = normalizeNetworkPolicy(policy);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({
      namespace: 'default',
      name: 'np1',
      uid: 'nu',
      podSelector: { matchLabels: { app: 'web' }, matchExpressions: [] },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          peers: [
            { kind: 'pods', podSelector: { matchLabels: { role: 'client' }, matchExpressions: [] } },
            {
              kind: 'pods',
              podSelector: { matchLabels: {}, matchExpressions: [] },
              namespaceSelector: { matchLabels: {}, matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] },
            },
            { kind: 'ipBlock', cidr: '10.1.0.0/16', family: 4, except: ['10.1.5.0/24'] },
          ],
          ports: [
            { protocol: 'TCP', port: 80 },
            { protocol: 'UDP', port: 'dns' },
            { protocol: 'TCP', port: 30000, endPort: 32767 },
            { protocol: 'SCTP' },
            { protocol: 'TCP', port: 8443 },
          ],
        },
        { peers: [], ports: [] },
      ],
      egress: [{ peers: [{ kind: 'ipBlock', cidr: '0.0.0.0/0', family: 4, except: [] }], ports: [] }],
    });
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings[0]).toContain('except[1]: 10.2.0.0/24 is not strictly inside 10.1.0.0/16');
    expect(r.warnings[1]).toContain('except[2]');
    expect(r.warnings[2]).toContain('except[3]: fd00::/64');
  });
  it('defaults policyTypes to Ingress without egress rules and respects explicit types', () => {
    const onlyIngress = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' }, spec: { podSelector: {} } });
    expect(onlyIngress.ok && onlyIngress.value.policyTypes).toEqual(['Ingress']);
    const noSpec = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' } });
    expect(noSpec.ok && noSpec.value.podSelector).toEqual({ matchLabels: {}, matchExpressions: [] });
    const egressOnly = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' }, spec: { policyTypes: ['Egress', 'Egress'] } });
    expect(egressOnly.ok && egressOnly.value.policyTypes).toEqual(['Egress']);
    const both = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' }, spec: { policyTypes: ['Egress', 'Ingress'] } });
    expect(both.ok && both.value.policyTypes).toEqual(['Ingress', 'Egress']);
  });
  it('reads client-node model objects (from renamed to _from) like JSON', () => {
    const rule = Object.assign(new V1NetworkPolicyIngressRule(), { _from: [{ ipBlock: { cidr: '192.168.0.0/16' } }] });
    const typed = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' }, spec: { ingress: [rule] } });
    const json = normalizeNetworkPolicy({ metadata: { name: 'a', namespace: 'n' }, spec: { ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16' } }] }] } });
    expect(typed.ok).toBe(true);
    expect(typed).toEqual(json);
  });
  it.each<[string, Patch, RejectCode, string]>([
    ['bad ipBlock cidr', (o) => (o.spec.ingress[0].from[2].ipBlock.cidr = '10.1.2.3/33'), 'invalid_cidr', 'spec.ingress[0].from[2].ipBlock.cidr'],
    ['ipBlock without cidr', (o) => delete o.spec.egress[0].to[0].ipBlock.cidr, 'invalid_cidr', 'spec.egress[0].to[0].ipBlock.cidr'],
    ['bad except', (o) => (o.spec.ingress[0].from[2].ipBlock.except = ['10.1.5.0']), 'invalid_cidr', 'ipBlock.except[0]'],
    ['ipBlock with selector', (o) => (o.spec.ingress[0].from[2].podSelector = {}), 'invalid_field', 'cannot be combined'],
    ['empty peer', (o) => (o.spec.ingress[0].from[0] = {}), 'missing_field', 'from[0]: a peer needs'],
    ['In without values', (o) => (o.spec.ingress[0].from[1].namespaceSelector.matchExpressions[0].values = []), 'invalid_selector', 'requires at least one value'],
    ['Exists with values', (o) => (o.spec.podSelector = { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), 'invalid_selector', 'spec.podSelector.matchExpressions[0]'],
    ['bad operator', (o) => (o.spec.ingress[0].from[0].podSelector = { matchExpressions: [{ key: 'a', operator: 'in', values: ['x'] }] }), 'invalid_selector', 'operator'],
    ['port 0', (o) => (o.spec.ingress[0].ports[0].port = 0), 'invalid_port', 'spec.ingress[0].ports[0].port'],
    ['port 65536', (o) => (o.spec.ingress[0].ports[0].port = 65536), 'invalid_port', 'ports[0].port'],
    ['endPort < port', (o) => (o.spec.ingress[0].ports[2].endPort = 29999), 'invalid_port', 'endPort: 29999 is less than port 30000'],
    ['endPort with named port', (o) => (o.spec.ingress[0].ports[1].endPort = 60), 'invalid_port', 'named port "dns"'],
    ['endPort without port', (o) => (o.spec.ingress[0].ports[3].endPort = 60), 'invalid_port', 'endPort requires port'],
    ['endPort out of range', (o) => (o.spec.ingress[0].ports[2].endPort = 70000), 'invalid_field', 'endPort'],
    ['bad protocol', (o) => (o.spec.ingress[0].ports[0].protocol = 'ICMP'), 'invalid_protocol', 'ports[0].protocol'],
    ['bad policyType', (o) => (o.spec.policyTypes = ['Ingress', 'Both']), 'invalid_field', 'spec.policyTypes[1]'],
    ['rule not an object', (o) => (o.spec.egress[0] = 'allow'), 'invalid_field', 'spec.egress[0]'],
    ['no namespace', (o) => delete o.metadata.namespace, 'missing_metadata', 'metadata.namespace'],
  ])('rejects %s', (_n, patch, code, reason) => {
    expectReject(normalizeNetworkPolicy(variant(policy, patch)), code, reason);
  });
});

describe('normalizers never throw', () => {
  const hostile = [
    undefined,
    { metadata: { name: 'x', namespace: 'y' }, spec: 5, status: 'bad' },
    {
      metadata: { name: 'x', namespace: 'y' },
      get spec(): unknown {
        throw new Error('boom');
      },
    },
  ];
  it.each(hostile.map((h, i) => [i, h]))('case %i', (_i, raw) => {
    for (const fn of [normalizeNode, normalizeNamespace, normalizePod, normalizeService, normalizeEndpointSlice, normalizeNetworkPolicy]) {
      const r = (fn as (x: unknown) => { ok: boolean })(raw);
      expect(typeof r.ok).toBe('boolean');
    }
  });
});

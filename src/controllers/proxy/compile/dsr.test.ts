import { describe, expect, it } from 'vitest';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../../model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, NodeModel, ServiceModel } from '../../../model/types.js';
import { assignFwmarks, compileDsr, dsrAddressKey, dsrFwmark, FWMARK_MASK } from './dsr.js';
import { ProxyCompiler } from './incremental.js';
import { compileProxyPlan, type ProxyInputs } from './services.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

const DSR = { 'kube-router.io/service.dsr': 'tunnel' };
const svc = (name: string, annotations: Record<string, string>, targetPort = 80): ServiceModel =>
  ok(normalizeService({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name, annotations },
    spec: { type: 'LoadBalancer', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], externalIPs: ['192.0.2.20'], ports: [{ name: 'http', port: 80, targetPort, nodePort: 30080, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } },
  }));
const slice = (service: string, eps: { ip: string; node: string }[], port = 80): EndpointSliceModel =>
  ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `${service}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: true } })),
  }));
const node = (name: string, ip: string, cidr: string): NodeModel =>
  ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name }, spec: { podCIDR: cidr }, status: { addresses: [{ type: 'InternalIP', address: ip }] } }));

const snapshot = (services: ServiceModel[], slices: EndpointSliceModel[]): ClusterSnapshot => ({
  nodes: new Map([['n1', node('n1', '172.20.0.11', '10.244.0.0/24')], ['n2', node('n2', '172.20.0.12', '10.244.1.0/24')]]),
  namespaces: new Map(), pods: new Map(), policies: new Map(),
  services: new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])),
  endpointSlices: new Map(slices.map((s) => [`${s.namespace}/${s.name}`, s])),
});

const inputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: ['192.0.2.0/24'], loadBalancerIPRanges: ['198.51.100.0/24'], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false, dsrTcpMss: 1440,
};
const eps = [{ ip: '10.244.0.7', node: 'n1' }, { ip: '10.244.1.5', node: 'n2' }];

describe('DSR compile (service.dsr=tunnel)', () => {
  it('serves external and LoadBalancer IPs as fwmark services with tunnel destinations, held on no dummy link; ClusterIP and NodePort stay NAT', () => {
    const plan = compileProxyPlan(snapshot([svc('web', DSR)], [slice('web', eps)]), inputs);
    const ext = dsrFwmark('192.0.2.20', 'tcp', 80), lb = dsrFwmark('198.51.100.7', 'tcp', 80);
    expect([...plan.virtualServers.keys()].sort()).toEqual([`fwmark/${ext}`, `fwmark/${lb}`, 'tcp/10.96.0.10:80', 'tcp/172.20.0.11:30080'].sort());
    expect(plan.virtualServers.get(`fwmark/${ext}`)).toMatchObject({
      fwmark: ext, address: '192.0.2.20', port: 80, protocol: 'tcp',
      realServers: [{ address: '10.244.0.7', port: 80, weight: 1, forward: 'tunnel', localPod: true }, { address: '10.244.1.5', port: 80, weight: 1, forward: 'tunnel' }],
    });
    expect(plan.virtualServers.get('tcp/10.96.0.10:80')!.realServers.every((r) => r.forward === undefined)).toBe(true);
    expect(plan.vips).toEqual(['10.96.0.10']);
    expect(plan.dsr).toEqual({
      marks: [
        { vip: '192.0.2.20', protocol: 'tcp', port: 80, fwmark: ext, service: 'default/web' },
        { vip: '198.51.100.7', protocol: 'tcp', port: 80, fwmark: lb, service: 'default/web' },
      ].sort((a, b) => a.fwmark - b.fwmark),
      tcpMss: 1440,
      bridgeRoutes: ['192.0.2.20', '198.51.100.7'],
      pods: [{ podIP: '10.244.0.7', vips: ['192.0.2.20', '198.51.100.7'] }],
    });
  });

  it('marks are stable, non-zero and inside the 14-bit mask (clear of the firewall marks)', () => {
    const m = dsrFwmark('192.0.2.20', 'tcp', 80);
    expect(m).toBe(dsrFwmark('192.0.2.20', 'tcp', 80));
    expect(m).not.toBe(dsrFwmark('192.0.2.20', 'udp', 80));
    for (let i = 0; i < 500; i++) {
      const x = dsrFwmark(`192.0.2.${i % 250}`, 'tcp', 1000 + i);
      expect(x).toBeGreaterThan(0);
      expect(x & ~FWMARK_MASK).toBe(0);
    }
  });

  it('a port remap falls back to NAT and says why; an unknown method is a warning and NAT', () => {
    const remap = compileProxyPlan(snapshot([svc('web', DSR, 8080)], [slice('web', eps, 8080)]), inputs);
    expect([...remap.virtualServers.keys()].some((k) => k.startsWith('fwmark/'))).toBe(false);
    expect(remap.vips).toContain('192.0.2.20');
    expect(remap.skipped.join('\n')).toMatch(/DSR needs targetPort = port \(80\), an endpoint listens on 8080; served without DSR/);
    expect(remap.dsr.marks).toEqual([]);
    const bad = compileProxyPlan(snapshot([svc('web', { 'kube-router.io/service.dsr': 'gre' })], [slice('web', eps)]), inputs);
    expect(bad.skipped.join('\n')).toMatch(/service.dsr="gre" is not "tunnel"/);
    expect(bad.dsr.marks).toEqual([]);
  });

  it('leaves hostNetwork endpoints (a node address) out of the DSR addresses, with a reason', () => {
    const plan = compileProxyPlan(snapshot([svc('web', DSR)], [slice('web', [...eps, { ip: '172.20.0.12', node: 'n2' }])]), inputs);
    const v = plan.virtualServers.get(`fwmark/${dsrFwmark('192.0.2.20', 'tcp', 80)}`)!;
    expect(v.realServers.map((r) => r.address)).toEqual(['10.244.0.7', '10.244.1.5']);
    expect(plan.skipped.join('\n')).toMatch(/DSR cannot reach hostNetwork endpoints 172.20.0.12/);
    // The ClusterIP still uses it (NAT reaches a host port).
    expect(plan.virtualServers.get('tcp/10.96.0.10:80')!.realServers.map((r) => r.address)).toContain('172.20.0.12');
  });

  it('the incremental compiler gives the same DSR part, and removing the annotation empties it', () => {
    const c = new ProxyCompiler();
    const s1 = snapshot([svc('web', DSR)], [slice('web', eps)]);
    expect(c.compile(s1, inputs).dsr).toEqual(compileProxyPlan(s1, inputs).dsr);
    const s2 = snapshot([svc('web', {})], [slice('web', eps)]);
    const p2 = c.compile(s2, inputs);
    expect(p2.dsr).toEqual({ marks: [], tcpMss: 1440, bridgeRoutes: [], pods: [] });
    expect(p2.vips).toEqual(['10.96.0.10', '192.0.2.20', '198.51.100.7']);
  });

  /** The first two external addresses (192.0.2.0/24, TCP ports 80-89) whose marks' hashes collide (found, not hard-coded). */
  const collidingPair = (): [{ ip: string; port: number }, { ip: string; port: number }] => {
    const seen = new Map<number, { ip: string; port: number }>();
    for (let port = 80; port < 90; port++) {
      for (let i = 1; i < 255; i++) {
        const ip = `192.0.2.${i}`;
        const m = dsrFwmark(ip, 'tcp', port);
        const other = seen.get(m);
        if (other) return [other, { ip, port }];
        seen.set(m, { ip, port });
      }
    }
    throw new Error('no colliding pair');
  };

  it('assignFwmarks: colliding addresses get distinct marks, the first by key keeps the hash, whatever the order given', () => {
    const [a, b] = collidingPair();
    const [ka, kb] = [dsrAddressKey(a.ip, 'tcp', a.port), dsrAddressKey(b.ip, 'tcp', b.port)];
    const h = dsrFwmark(a.ip, 'tcp', a.port);
    const first = ka < kb ? ka : kb, second = ka < kb ? kb : ka;
    const marks = assignFwmarks([kb, ka]);
    expect(marks.get(first)).toBe(h);
    expect(marks.get(second)).not.toBe(h);
    expect(marks.get(second)! & ~FWMARK_MASK).toBe(0);
    expect(marks.get(second)).toBeGreaterThan(0);
    expect(assignFwmarks([ka, kb])).toEqual(marks);
    // An address whose own hash is where the probe would go keeps it; the probe moves on.
    const next = (m: number) => (m % FWMARK_MASK) + 1;
    let c: string | undefined;
    for (let port = 1; port < 200_000 && !c; port++) {
      const k = dsrAddressKey('198.51.100.9', 'tcp', port % 65536);
      if (assignFwmarks([k]).get(k) === next(h)) c = k;
    }
    expect(c).toBeDefined();
    const three = assignFwmarks([first, second, c!]);
    expect(three.get(first)).toBe(h);
    expect(three.get(c!)).toBe(next(h));
    expect(new Set(three.values()).size).toBe(3);
    expect(three.get(second)).not.toBe(h);
  });

  it('two DSR services whose addresses collide are both served, under distinct marks, by the full and the incremental compiler', () => {
    const [a, b] = collidingPair();
    const dsrSvc = (name: string, x: { ip: string; port: number }): ServiceModel =>
      ok(normalizeService({
        apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name, annotations: DSR },
        spec: { type: 'ClusterIP', clusterIP: `10.96.0.${name === 'a' ? 11 : 12}`, clusterIPs: [`10.96.0.${name === 'a' ? 11 : 12}`], externalIPs: [x.ip], ports: [{ name: 'http', port: x.port, targetPort: x.port, protocol: 'TCP' }] },
      }));
    const services = [dsrSvc('a', a), dsrSvc('b', b)];
    const slices = [slice('a', eps, a.port), slice('b', eps, b.port)];
    const plan = compileProxyPlan(snapshot(services, slices), inputs);
    expect(plan.skipped).toEqual([]);
    const marks = plan.dsr.marks.map((m) => [m.vip, m.fwmark] as const);
    expect(marks.map(([vip]) => vip).sort()).toEqual([a.ip, b.ip].sort());
    expect(new Set(marks.map(([, m]) => m)).size).toBe(2);
    for (const [vip, m] of marks) expect(plan.virtualServers.get(`fwmark/${m}`)?.address).toBe(vip);
    // Incremental, with the services arriving one at a time in either order: the same marks in the end.
    for (const order of [[0, 1], [1, 0]]) {
      const c = new ProxyCompiler();
      c.compile(snapshot([services[order[0]!]!], [slices[order[0]!]!]), inputs);
      const p = c.compile(snapshot(services, slices), inputs);
      expect(p.dsr).toEqual(plan.dsr);
      expect([...p.virtualServers.keys()].sort()).toEqual([...plan.virtualServers.keys()].sort());
    }
    // The service that goes away frees its mark: the other has its own hash again.
    const alone = compileProxyPlan(snapshot([services[1]!], [slices[1]!]), inputs);
    expect(alone.dsr.marks.map((m) => m.fwmark)).toEqual([dsrFwmark(b.ip, 'tcp', b.port)]);
  });

  it('compileDsr collects pods across services, sorted', () => {
    const p = compileProxyPlan(snapshot([svc('a', DSR), svc('b', DSR)], [slice('a', eps), slice('b', eps)]), inputs);
    // b's addresses collide with a's (same VIP:port): b is skipped as already served, one mark per address.
    expect(compileDsr(p.virtualServers, 1400).marks.map((m) => m.service)).toEqual(['default/a', 'default/a']);
    expect(p.skipped.some((m) => m.includes('default/b') && m.includes('already served'))).toBe(true);
  });
});

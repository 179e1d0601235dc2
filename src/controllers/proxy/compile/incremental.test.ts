import { describe, expect, it } from 'vitest';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../../model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, NodeModel, ServiceModel } from '../../../model/types.js';
import { ProxyCompiler } from './incremental.js';
import type { ProxyPlan } from './plan.js';
import { compileProxyPlan, type ProxyInputs } from './services.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

/** A small deterministic PRNG (mulberry32), so a failing sequence can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

function randomService(r: () => number, name: string): ServiceModel {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  // Few addresses and ports, so services collide on IPVS keys now and then.
  const clusterIP = `10.96.0.${1 + Math.floor(r() * 5)}`;
  const type = pick(['ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']);
  const ports = [{ name: 'http', port: pick([80, 443]), targetPort: 8080, protocol: 'TCP', ...(type === 'NodePort' || type === 'LoadBalancer' ? { nodePort: pick([30080, 30081]) } : {}) }];
  if (r() < 0.3) ports.push({ name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' });
  const annotations: Record<string, string> = {};
  if (r() < 0.3) annotations['kube-router.io/service.hairpin'] = '';
  if (r() < 0.2) annotations['kube-router.io/service.scheduler'] = pick(['sh', 'mh', 'bogus']);
  if (r() < 0.2) annotations['kube-router.io/service.local'] = 'true';
  // DSR: http remaps its port (falls back to NAT with a reason), dns does not (fwmark service).
  if (r() < 0.2) annotations['kube-router.io/service.dsr'] = 'tunnel';
  return ok(normalizeService({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name, annotations },
    spec: {
      type,
      ...(type === 'ExternalName' ? { externalName: 'example.com' } : { clusterIP, clusterIPs: [clusterIP] }),
      ports,
      ...(r() < 0.3 ? { externalIPs: [pick(['192.0.2.1', '192.0.2.2', '203.0.113.9'])] } : {}),
      ...(r() < 0.2 ? { internalTrafficPolicy: 'Local' } : {}),
      ...(r() < 0.2 ? { sessionAffinity: 'ClientIP' } : {}),
    },
    status: type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: pick(['198.51.100.1', '198.51.100.2']) }] } } : {},
  }));
}

function randomSlice(r: () => number, service: string, suffix: string): EndpointSliceModel {
  const n = Math.floor(r() * 4);
  return ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `${service}-${suffix}`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }],
    endpoints: Array.from({ length: n }, () => {
      const ready = r() < 0.7;
      return {
        addresses: [`10.244.${Math.floor(r() * 2)}.${1 + Math.floor(r() * 6)}`],
        nodeName: r() < 0.5 ? 'n1' : 'n2',
        conditions: { ready, serving: ready || r() < 0.5, terminating: !ready && r() < 0.5 },
      };
    }),
  }));
}

const nodeOf = (podCIDR: string): NodeModel =>
  ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: { podCIDR }, status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }] } }));

const baseInputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: ['192.0.2.0/24'], loadBalancerIPRanges: ['198.51.100.0/24'], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};

/** The plan with `skipped` in a stable order (the incremental one lists a service's conflicts after its other reasons). */
const comparable = (p: ProxyPlan) => ({ ...p, virtualServers: [...p.virtualServers], skipped: [...p.skipped].sort() });

describe('ProxyCompiler (incremental)', () => {
  it('equals the full compile after every step of random service, slice, node and input changes', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const services = new Map<string, ServiceModel>();
      const slices = new Map<string, EndpointSliceModel>();
      let nodes = new Map([['n1', nodeOf('10.244.0.0/24')]]);
      let inputs = baseInputs;
      const compiler = new ProxyCompiler();
      let snap: ClusterSnapshot | undefined;
      for (let step = 0; step < 60; step++) {
        const what = r();
        const name = NAMES[Math.floor(r() * NAMES.length)]!;
        let sv = snap?.services ?? services;
        let sl = snap?.endpointSlices ?? slices;
        if (what < 0.3) {
          const m = new Map(sv);
          m.set(`default/${name}`, randomService(r, name));
          sv = m;
        } else if (what < 0.4) {
          const m = new Map(sv);
          m.delete(`default/${name}`);
          sv = m;
        } else if (what < 0.75) {
          const m = new Map(sl);
          // A slice may even move to another service (its label changed).
          const suffix = r() < 0.5 ? 'x' : 'y';
          const key = `default/${name}-${suffix}`;
          m.set(key, randomSlice(r, r() < 0.1 ? NAMES[Math.floor(r() * NAMES.length)]! : name, suffix));
          if (r() < 0.1) m.set(key, { ...m.get(key)!, name: `${name}-${suffix}`, serviceName: NAMES[(NAMES.indexOf(name) + 1) % NAMES.length]! });
          sl = m;
        } else if (what < 0.85) {
          const m = new Map(sl);
          m.delete(`default/${name}-${r() < 0.5 ? 'x' : 'y'}`);
          sl = m;
        } else if (what < 0.9) {
          nodes = new Map([['n1', nodeOf(r() < 0.5 ? '10.244.0.0/24' : '10.244.1.0/24')]]);
        } else if (what < 0.95) {
          inputs = { ...baseInputs, hairpinAll: r() < 0.5, masqueradeAll: r() < 0.5, strictExternalIPs: r() < 0.7 };
        }
        // else: nothing changed at all
        snap = { nodes, namespaces: new Map(), pods: new Map(), services: sv, endpointSlices: sl, policies: new Map() };
        const got = compiler.compile(snap, inputs);
        const want = compileProxyPlan(snap, inputs);
        expect(comparable(got), `seed ${seed} step ${step}`).toEqual(comparable(want));
      }
    }
  });

  it('recompiles only the changed service; the others keep their VirtualServer objects', () => {
    const r = rng(7);
    const services = new Map(['a', 'b', 'c'].map((n) => [`default/${n}`, ok(normalizeService({
      apiVersion: 'v1', kind: 'Service', metadata: { name: n, namespace: 'default', uid: n },
      spec: { type: 'ClusterIP', clusterIP: `10.96.1.${n.charCodeAt(0)}`, clusterIPs: [`10.96.1.${n.charCodeAt(0)}`], ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    }))]));
    const slices = new Map(['a', 'b', 'c'].map((n) => [`default/${n}-x`, randomSlice(r, n, 'x')]));
    const nodes = new Map([['n1', nodeOf('10.244.0.0/24')]]);
    const compiler = new ProxyCompiler();
    const first = compiler.compile({ nodes, namespaces: new Map(), pods: new Map(), services, endpointSlices: slices, policies: new Map() }, baseInputs);
    expect(compiler.stats()).toEqual({ recompiled: 3, reset: true });

    const changed = new Map(slices);
    changed.set('default/b-x', randomSlice(r, 'b', 'x'));
    const second = compiler.compile({ nodes, namespaces: new Map(), pods: new Map(), services, endpointSlices: changed, policies: new Map() }, baseInputs);
    expect(compiler.stats()).toEqual({ recompiled: 1, reset: false });
    expect(second.virtualServers.get('tcp/10.96.1.97:80')).toBe(first.virtualServers.get('tcp/10.96.1.97:80'));
    expect(second.virtualServers.get('tcp/10.96.1.99:80')).toBe(first.virtualServers.get('tcp/10.96.1.99:80'));
    // VIPs did not change: the same array, so the applier's VIP step has nothing to look at.
    expect(second.vips).toBe(first.vips);

    const third = compiler.compile({ nodes, namespaces: new Map(), pods: new Map(), services, endpointSlices: changed, policies: new Map() }, baseInputs);
    expect(third).toBe(second);
    expect(compiler.stats().recompiled).toBe(0);
  });
});

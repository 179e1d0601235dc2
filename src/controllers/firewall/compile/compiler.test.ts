import { describe, expect, it } from 'vitest';
import type { NetworkPolicyModel, PodModel } from '../../../model/types.js';
import { namespace, pod, policy, snapshot } from '../../../testing/firewall/fixtures.js';
import { Cluster, nodeOptions, reach } from '../../../testing/firewall/reach.js';
import { tracePacket } from './trace.js';
import { FirewallCompiler, compileFirewall } from './compiler.js';
import { isOurChain, isOurSet, namespacePodsChainName, namespacePodsSetName } from './names.js';

// Address plan: node1 pods 10.244.1.0/24, node2 pods 10.244.2.0/24, outside 203.0.113.0/24.
const ports = [
  { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' as const },
  { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' as const },
  { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' as const },
];
const xa = pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { pod: 'a' }, ports });
const xb = pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { pod: 'b' }, ports });
const xc = pod({ ns: 'x', name: 'c', ip: '10.244.2.4', node: 'node2', labels: { pod: 'c' }, ports });
const ya = pod({ ns: 'y', name: 'a', ip: '10.244.1.5', labels: { pod: 'a' }, ports });
const yb = pod({ ns: 'y', name: 'b', ip: '10.244.2.6', node: 'node2', labels: { pod: 'b', tier: 'web' }, ports });
const za = pod({ ns: 'z', name: 'a', ip: '10.244.2.7', node: 'node2', labels: { pod: 'a' }, ports });
const PODS = [xa, xb, xc, ya, yb, za];
const NAMESPACES = [namespace('x', { ns: 'x' }), namespace('y', { ns: 'y', team: 'blue' }), namespace('z', { ns: 'z' })];

const TCP80 = { proto: 'tcp', port: 80 } as const;
const TCP81 = { proto: 'tcp', port: 81 } as const;
const UDP80 = { proto: 'udp', port: 80 } as const;

function world(policies: NetworkPolicyModel[], pods: PodModel[] = PODS, extra = {}): Cluster {
  return new Cluster(['node1', 'node2'], extra).update(snapshot({ namespaces: NAMESPACES, pods, policies }));
}

/** Which of PODS reach `to` on the probe. */
function sources(c: Cluster, to: PodModel, probe = TCP80 as { proto: 'tcp' | 'udp' | 'sctp'; port: number }): string[] {
  return PODS.filter((p) => p !== to && reach(c, p, to, probe) === 'ACCEPT').map((p) => `${p.namespace}/${p.name}`);
}

const ALL_BUT = (self: PodModel): string[] =>
  PODS.filter((p) => p !== self).map((p) => `${p.namespace}/${p.name}`);

describe('compiler semantics (through the plan tracer)', () => {
  it('without policies everything is reachable', () => {
    const c = world([]);
    for (const to of PODS) expect(sources(c, to)).toEqual(ALL_BUT(to));
  });

  it('ingress: [] isolates the selected pods only, and their replies still flow', () => {
    const c = world([policy('x', 'deny', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [] })]);
    expect(sources(c, xa)).toEqual([]);
    expect(sources(c, xb)).toEqual(ALL_BUT(xb));
    // x/a itself can still open connections (egress not isolated).
    expect(reach(c, xa, yb, TCP80)).toBe('ACCEPT');
    const est = tracePacket(c.plan('node1'), { hook: 'FORWARD', src: xb.podIPs[0]!, dst: xa.podIPs[0]!, proto: 'tcp', dport: 80, bridged: true, ctstate: 'ESTABLISHED' });
    expect(est.verdict).toBe('ACCEPT');
    const denied = tracePacket(c.plan('node1'), { hook: 'FORWARD', src: xb.podIPs[0]!, dst: xa.podIPs[0]!, proto: 'tcp', dport: 80, bridged: true });
    expect(denied).toMatchObject({ verdict: 'REJECT', logged: true });
  });

  it('the node itself (kubelet probes) reaches isolated pods', () => {
    const c = world([policy('x', 'deny', { podSelector: {}, ingress: [] })]);
    const r = tracePacket(c.plan('node1'), { hook: 'OUTPUT', src: '10.244.1.1', dst: xa.podIPs[0]!, proto: 'tcp', dport: 80, localAddrs: ['10.244.1.1', '192.168.0.1'] });
    expect(r.verdict).toBe('ACCEPT');
  });

  it('podSelector peer selects in the policy namespace only', () => {
    const c = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    ]);
    expect(sources(c, xa)).toEqual(['x/b']);
  });

  it('namespaceSelector alone selects every pod of matching namespaces; empty podSelector peer = whole namespace', () => {
    const c = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }, { podSelector: {} }] }] }),
    ]);
    expect(sources(c, xa)).toEqual(['x/b', 'x/c', 'y/a', 'y/b']);
  });

  it('namespaceSelector and podSelector in one peer is an AND; as two peers an OR', () => {
    const and = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    ]);
    expect(sources(and, xa)).toEqual(['y/b']);
    const or = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    ]);
    expect(sources(or, xa)).toEqual(['x/b', 'y/a', 'y/b']);
  });

  it('matchExpressions In, NotIn, Exists, DoesNotExist', () => {
    const sel = (op: string, values?: string[]) => [{ podSelector: {}, namespaceSelector: { matchExpressions: [{ key: 'team', operator: op, ...(values ? { values } : {}) }] } }];
    const mk = (op: string, values?: string[]) => world([policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: sel(op, values) }] })]);
    expect(sources(mk('In', ['blue']), xa)).toEqual(['y/a', 'y/b']);
    expect(sources(mk('NotIn', ['blue']), xa)).toEqual(['x/b', 'x/c', 'z/a']);
    expect(sources(mk('Exists'), xa)).toEqual(['y/a', 'y/b']);
    expect(sources(mk('DoesNotExist'), xa)).toEqual(['x/b', 'x/c', 'z/a']);
    const pods = world([policy('x', 'p', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a'] }] }, ingress: [] })]);
    expect(sources(pods, xa)).toEqual(ALL_BUT(xa));
    expect(sources(pods, xb)).toEqual([]);
  });

  it('ipBlock with except, from outside and from pods', () => {
    const c = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.2.0/24'] } }] }] }),
    ]);
    expect(sources(c, xa)).toEqual(['x/b', 'y/a']);
    expect(reach(c, { ip: '203.0.113.9' }, xa, TCP80)).toBe('REJECT');
  });

  it('a /0 block (split for hash:net) with a /32 except', () => {
    const c = world([
      policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.1.3/32'] } }] }] }),
    ]);
    expect(sources(c, xa)).toEqual(['x/c', 'y/a', 'y/b', 'z/a']);
    expect(reach(c, { ip: '203.0.113.9' }, xa, TCP80)).toBe('ACCEPT');
    expect(reach(c, { ip: '130.0.0.1' }, xa, TCP80)).toBe('ACCEPT');
    const sets = [...c.plan('node1').sets.values()].filter((s) => s.type === 'hash:net');
    expect(sets.flatMap((s) => s.entries).sort()).toEqual(['0.0.0.0/1', '10.244.1.3 nomatch', '128.0.0.0/1']);
  });

  it('two ipBlocks of one rule are a union even when one excepts what the other allows', () => {
    const c = world([
      policy('x', 'p', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.1.0/24'] } }, { ipBlock: { cidr: '10.244.1.0/25' } }] }],
      }),
    ]);
    expect(sources(c, xa)).toEqual(ALL_BUT(xa));
  });

  it('ports: number, protocol only, endPort range, UDP and SCTP', () => {
    const c = world([
      policy('x', 'num', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }),
      policy('x', 'udp', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ ports: [{ protocol: 'UDP' }] }] }),
      policy('y', 'range', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 79, endPort: 80, protocol: 'TCP' }, { port: 132, protocol: 'SCTP' }] }] }),
    ]);
    expect(reach(c, yb, xa, TCP81)).toBe('ACCEPT');
    expect(reach(c, yb, xa, TCP80)).toBe('REJECT');
    expect(reach(c, yb, xa, UDP80)).toBe('REJECT');
    expect(reach(c, yb, xb, UDP80)).toBe('ACCEPT');
    expect(reach(c, yb, xb, TCP80)).toBe('REJECT');
    expect(reach(c, xa, ya, TCP80)).toBe('ACCEPT');
    expect(reach(c, xa, ya, TCP81)).toBe('REJECT');
    expect(reach(c, xa, ya, { proto: 'sctp', port: 132 })).toBe('ACCEPT');
    expect(reach(c, xa, ya, { proto: 'sctp', port: 133 })).toBe('REJECT');
  });

  it('named ports resolve per target pod, and a name no pod has allows nothing', () => {
    const odd = pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { pod: 'b' }, ports: [{ name: 'serve-80-tcp', containerPort: 8080, protocol: 'TCP' }] });
    const pods = PODS.map((p) => (p === xb ? odd : p));
    const c = world([policy('x', 'np', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }, { ports: [{ port: 'no-such-port' }] }] })], pods);
    expect(reach(c, ya, xa, TCP80)).toBe('ACCEPT');
    expect(reach(c, ya, xa, TCP81)).toBe('REJECT');
    expect(reach(c, ya, odd, TCP80)).toBe('REJECT');
    expect(reach(c, ya, odd, { proto: 'tcp', port: 8080 })).toBe('ACCEPT');
    // A UDP port of the same number is not the named TCP port.
    expect(reach(c, ya, xa, UDP80)).toBe('REJECT');
  });

  it('egress: deny, allow to a peer, named port to any destination', () => {
    const deny = world([policy('x', 'e', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'] })]);
    expect(PODS.filter((p) => p !== xa).map((p) => reach(deny, xa, p, TCP80))).toEqual(Array(5).fill('REJECT'));
    expect(sources(deny, xa)).toEqual(ALL_BUT(xa));
    const allow = world([
      policy('x', 'e', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }, { ports: [{ port: 'serve-81-tcp' }] }] }),
    ]);
    expect(reach(allow, xa, za, TCP80)).toBe('ACCEPT');
    expect(reach(allow, xa, yb, TCP80)).toBe('REJECT');
    expect(reach(allow, xa, yb, TCP81)).toBe('ACCEPT');
    expect(reach(allow, { ip: '203.0.113.9' }, xa, TCP80)).toBe('ACCEPT');
  });

  it('egress to an ipBlock with a port, and an IPv6 block when IPv6 is off is skipped with a warning', () => {
    const c = world([
      policy('x', 'e', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.244.2.0/24' } }, { ipBlock: { cidr: 'fd00::/64' } }], ports: [{ port: 80 }] }, { to: [{ ipBlock: { cidr: 'fd00::/8' } }] }],
      }),
    ]);
    expect(reach(c, xa, yb, TCP80)).toBe('ACCEPT');
    expect(reach(c, xa, yb, TCP81)).toBe('REJECT');
    expect(reach(c, xa, xb, TCP80)).toBe('REJECT');
    const plan = c.plan('node1');
    expect(plan.warnings.join('\n')).toMatch(/fd00::\/64 is IPv6, which is not enabled/);
    // The v6-only rule must not turn into "any destination" in the IPv4 table.
    expect(reach(c, xa, za, TCP81)).toBe('REJECT');
    expect([...plan.sets.keys()].some((n) => n.startsWith('inet6:'))).toBe(false);
  });

  it('policyTypes decide what is enforced; several rules and policies are a union', () => {
    const c = world([
      // Explicit Ingress only: the egress section is ignored.
      policy('x', 'p1', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }], egress: [] }),
      policy('x', 'p2', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }, { ports: [{ port: 81 }] }] }),
    ]);
    expect(sources(c, xa)).toEqual(['x/b', 'z/a']);
    expect(sources(c, xa, TCP81)).toEqual(ALL_BUT(xa));
    expect(reach(c, xa, yb, TCP80)).toBe('ACCEPT');
  });

  it('ingress and egress of one policy do not mix when source and destination are both selected', () => {
    const c = world([
      policy('x', 'both', {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      }),
    ]);
    // x/b may send to x/a (egress allows all of x) but x/a only admits x/c.
    expect(reach(c, xb, xa, TCP80)).toBe('REJECT');
    expect(reach(c, xc, xa, TCP80)).toBe('ACCEPT');
  });

  it('hostNetwork pods are neither firewalled nor selectable', () => {
    const host = pod({ ns: 'x', name: 'h', ip: '192.168.0.1', hostNetwork: true, labels: { pod: 'b' } });
    const c = world(
      [
        policy('x', 'all', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }),
      ],
      [...PODS, host],
    );
    const plan = c.plan('node1');
    // Local pods x/a, x/b, y/a: namespaces x and y get their two pod chains each, the host pod nothing.
    const podChains = [...plan.tables.get(4)!.chains.keys()].filter((n) => n.startsWith('KUBE-POD-FW-'));
    expect(podChains).toHaveLength(4);
    expect([...plan.sets.get('kube-router-local-pods')!.entries].sort()).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.5']);
    expect(reach(c, { ip: '192.168.0.1' }, xa, TCP80)).toBe('REJECT');
    expect(reach(c, xb, xa, TCP80)).toBe('ACCEPT');
    expect([...plan.sets.values()].flatMap((s) => s.entries)).not.toContain('192.168.0.1');
  });

  it('finished pods and pods without IP take no part', () => {
    const done = pod({ ns: 'x', name: 'done', ip: '10.244.1.9', labels: { pod: 'b' }, phase: 'Succeeded' });
    const noip = pod({ ns: 'x', name: 'noip', ip: [], labels: { pod: 'b' } });
    const c = world([policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })], [...PODS, done, noip]);
    expect(reach(c, { ip: '10.244.1.9' }, xa, TCP80)).toBe('REJECT');
    expect([...c.plan('node1').sets.get('kube-router-local-pods')!.entries].sort()).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.5']);
  });

  it('malformed input: bad ranges, except outside the block, empty selectors never crash or widen', () => {
    const c = world([
      policy('x', 'bad', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          { ports: [{ port: 90, endPort: 80 }] },
          { from: [{ ipBlock: { cidr: '10.244.2.0/24', except: ['10.9.0.0/16'] } }] },
          { from: [{ ipBlock: { cidr: 'not-a-cidr' } }] },
        ],
      }),
    ]);
    const w = c.plan('node1').warnings.join('\n');
    expect(w).toMatch(/not a valid port or range/);
    expect(w).toMatch(/except 10.9.0.0\/16 is not inside/);
    expect(w).toMatch(/not-a-cidr is not a valid CIDR/);
    // The bad port rule is dropped entirely: ports were given, none valid -> no "all ports" rule.
    expect(sources(c, xa)).toEqual(['x/c', 'y/b', 'z/a']);
  });

  it('fails closed by default: pod-CIDR addresses without a programmed chain are logged and rejected, both ways', () => {
    const c = world([], PODS);
    const plan = c.plan('node1');
    expect(reach(c, xb, xa, TCP80)).toBe('ACCEPT');
    // 10.244.1.77 is a pod the agent has not seen yet: nothing reaches it, it reaches nothing, not even ICMP.
    const to = tracePacket(plan, { hook: 'FORWARD', src: '10.244.1.2', dst: '10.244.1.77', proto: 'tcp', dport: 80, bridged: true });
    expect(to).toMatchObject({ verdict: 'REJECT', logged: true });
    const out = tracePacket(plan, { hook: 'FORWARD', src: '10.244.1.77', dst: '10.244.2.7', proto: 'tcp', dport: 80, bridged: true });
    expect(out).toMatchObject({ verdict: 'REJECT', logged: true });
    const ping = tracePacket(plan, { hook: 'FORWARD', src: '10.244.1.77', dst: '10.244.1.2', proto: 'icmp', icmpType: 8, bridged: true });
    expect(ping.verdict).toBe('REJECT');
    const est = tracePacket(plan, { hook: 'FORWARD', src: '10.244.1.2', dst: '10.244.1.77', proto: 'tcp', dport: 80, ctstate: 'ESTABLISHED' });
    expect(est.verdict).toBe('REJECT');
    const fromNode = tracePacket(plan, { hook: 'OUTPUT', src: '10.244.1.1', dst: '10.244.1.77', proto: 'tcp', dport: 80, localAddrs: ['10.244.1.1'] });
    expect(fromNode.verdict).toBe('REJECT');
    const toNode = tracePacket(plan, { hook: 'INPUT', src: '10.244.1.77', dst: '10.244.1.1', proto: 'udp', dport: 53, localAddrs: ['10.244.1.1'] });
    expect(toNode.verdict).toBe('REJECT');
    // Programmed pods keep the node: node -> pod (kubelet probes), pod -> gateway, and the gateway itself.
    const local = { localAddrs: ['10.244.1.1', '192.168.50.1'] };
    expect(tracePacket(plan, { hook: 'OUTPUT', src: '192.168.50.1', dst: '10.244.1.2', proto: 'tcp', dport: 80, ...local }).verdict).toBe('ACCEPT');
    expect(tracePacket(plan, { hook: 'OUTPUT', src: '10.244.1.1', dst: '10.244.1.2', proto: 'tcp', dport: 80, ...local }).verdict).toBe('ACCEPT');
    expect(tracePacket(plan, { hook: 'INPUT', src: '10.244.1.2', dst: '10.244.1.1', proto: 'udp', dport: 53, ...local }).verdict).toBe('ACCEPT');
    expect(tracePacket(plan, { hook: 'OUTPUT', src: '10.244.1.1', dst: '10.244.1.1', proto: 'tcp', dport: 22, ...local }).verdict).toBe('ACCEPT');
    // Another node's pod CIDR is that node's business.
    expect(tracePacket(plan, { hook: 'FORWARD', src: '10.244.2.7', dst: '10.244.2.8', proto: 'tcp', dport: 80 }).verdict).toBe('ACCEPT');
    for (const top of ['KUBE-ROUTER-INPUT', 'KUBE-ROUTER-FORWARD', 'KUBE-ROUTER-OUTPUT']) expect(plan.tables.get(4)!.chains.get(top)![0]!.target).toEqual({ kind: 'jump', chain: 'KUBE-NWPLCY-TAIL' });
    expect(plan.denySets.has('kube-router-local-pods')).toBe(false);
    expect(plan.denySets.has('kube-router-in-isolated')).toBe(true);
    expect([...plan.sets.get('kube-router-local-pods')!.entries].sort()).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.5']);
  });

  it('without a known pod CIDR there is nothing to fail closed on: no TAIL, no local-pods set', () => {
    const c = world([], PODS, { podCIDRs: [] });
    const plan = c.plan('node1');
    expect(plan.tables.get(4)!.chains.has('KUBE-NWPLCY-TAIL')).toBe(false);
    expect(plan.sets.has('kube-router-local-pods')).toBe(false);
    expect(tracePacket(plan, { hook: 'FORWARD', src: '10.244.1.2', dst: '10.244.1.77', proto: 'tcp', dport: 80, bridged: true }).verdict).toBe('ACCEPT');
  });

  it('IPv6 and dual-stack pods get rules in the IPv6 table', () => {
    const a6 = pod({ ns: 'x', name: 'a', ip: ['10.244.1.2', 'fd00:1::2'], labels: { pod: 'a' } });
    const b6 = pod({ ns: 'x', name: 'b', ip: ['10.244.1.3', 'fd00:1::3'], labels: { pod: 'b' } });
    const c = new Cluster(['node1'], { families: [4, 6] }).update(
      snapshot({ pods: [a6, b6], policies: [policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: 'fd00:1::3/128' } }] }] })] }),
    );
    expect(reach(c, b6, a6, { ...TCP80, family: 6 })).toBe('ACCEPT');
    expect(reach(c, b6, a6, { ...TCP80, family: 4 })).toBe('REJECT');
    expect(c.plan('node1').sets.has('inet6:kube-router-in-isolated')).toBe(true);
  });

  it('everything the plan names is ours (GC scope) and within kernel name limits', () => {
    const c = world([policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 'serve-80-tcp' }] }], egress: [{}], policyTypes: ['Ingress', 'Egress'] })], PODS, { families: [4, 6] });
    const plan = c.plan('node1');
    for (const t of plan.tables.values()) {
      for (const name of t.chains.keys()) {
        expect(name.length).toBeLessThanOrEqual(28);
        if (!['KUBE-NWPLCY-COMMON', 'KUBE-NWPLCY-DEFAULT', 'KUBE-NWPLCY-TAIL'].includes(name)) expect(isOurChain(name)).toBe(true);
      }
    }
    for (const name of plan.sets.keys()) {
      expect(name.length).toBeLessThanOrEqual(31);
      expect(isOurSet(name)).toBe(true);
    }
  });
});

describe('incremental compile', () => {
  const base = [
    policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] }),
    policy('y', 'q', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }] }),
  ];

  it('a pod label change that moves it into a selection changes sets only', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: base });
    const p1 = comp.update(s1).plan;
    const xb2 = { ...xb, labels: { pod: 'b', role: 'client' } };
    const pods2 = new Map(s1.pods);
    pods2.set('x/b', xb2);
    const r = comp.update({ ...s1, pods: pods2 });
    expect(r.stats.podsCompiled).toBe(1);
    expect(r.stats.policiesCompiled).toBe(0);
    const t1 = p1.tables.get(4)!.chains;
    const t2 = r.plan.tables.get(4)!.chains;
    for (const [name, rules] of t2) expect(t1.get(name), name).toBe(rules);
    const changed = [...r.plan.sets].filter(([n, s]) => p1.sets.get(n) !== s).map(([n]) => n);
    expect(changed).toHaveLength(1);
    expect(r.plan.sets.get(changed[0]!)!.entries).toContain('10.244.1.3');
    // And the result equals a from-scratch compile.
    const fresh = compileFirewall({ ...s1, pods: pods2 }, nodeOptions('node1'));
    expect(normalize(fresh)).toEqual(normalize(r.plan));
  });

  it('a namespace label change re-evaluates that namespace only and matches a fresh compile', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const pol = [policy('x', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'red' } } }] }] })];
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: pol });
    comp.update(s1);
    const ns2 = new Map(s1.namespaces);
    ns2.set('z', namespace('z', { ns: 'z', team: 'red' }));
    const s2 = { ...s1, namespaces: ns2 };
    const r = comp.update(s2);
    expect(r.stats.podsCompiled).toBe(0);
    expect(normalize(r.plan)).toEqual(normalize(compileFirewall(s2, nodeOptions('node1'))));
    const c = new Cluster(['node1', 'node2']).update(s2);
    expect(sources(c, xa)).toEqual(['z/a']);
  });

  it('a policy update re-renders only that policy and a deletion removes its chains and sets', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: base });
    const p1 = comp.update(s1).plan;
    const pol2 = new Map(s1.policies);
    pol2.set('x/p', policy('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }));
    const r = comp.update({ ...s1, policies: pol2 });
    expect(r.stats.policiesCompiled).toBe(1);
    const t1 = p1.tables.get(4)!.chains;
    const changedChains = [...r.plan.tables.get(4)!.chains].filter(([n, rules]) => t1.get(n) !== rules).map(([n]) => n);
    expect(changedChains.every((n) => n.startsWith('KUBE-NWPLCY-') || n.startsWith('KUBE-NS-'))).toBe(true);
    const pol3 = new Map(pol2);
    pol3.delete('x/p');
    const r3 = comp.update({ ...s1, policies: pol3 });
    expect(normalize(r3.plan)).toEqual(normalize(compileFirewall({ ...s1, policies: pol3 }, nodeOptions('node1'))));
  });

  it('a new local pod in a namespace that has local pods changes sets only (no rule, no jump)', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: base });
    const p1 = comp.update(s1).plan;
    const xd = pod({ ns: 'x', name: 'd', ip: '10.244.1.8', labels: { pod: 'a', role: 'client' }, ports });
    const pods2 = new Map(s1.pods);
    pods2.set('x/d', xd);
    const r = comp.update({ ...s1, pods: pods2 });
    for (const [name, rules] of r.plan.tables.get(4)!.chains) expect(p1.tables.get(4)!.chains.get(name), name).toBe(rules);
    const changed = [...r.plan.sets].filter(([n, s]) => p1.sets.get(n) !== s).map(([n]) => n);
    const nsSet = namespacePodsSetName(4, 'x');
    expect(changed).toEqual(expect.arrayContaining([nsSet, 'kube-router-local-pods', 'kube-router-in-isolated']));
    expect(r.plan.sets.get(nsSet)!.entries).toContain('10.244.1.8');
    // The namespace set narrows (its members' traffic is filtered): the applier adds to it first.
    expect(r.plan.denySets.has(nsSet)).toBe(true);
    expect(normalize(r.plan)).toEqual(normalize(compileFirewall({ ...s1, pods: pods2 }, nodeOptions('node1'))));
    // Traffic to it runs x's ingress pod chain: policy p selects it, and role=client is no peer of p's.
    const c = new Cluster(['node1', 'node2']).update({ ...s1, pods: pods2 });
    expect(reach(c, xb, xd, TCP80)).toBe('REJECT');
    expect(reach(c, xd, xa, TCP80)).toBe('ACCEPT');
  });

  it('big sets carry their exact delta against the previous plan (what the appliers send instead of a diff)', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    // 300 more local pods: kube-router-local-pods and the isolated set pass the delta threshold.
    const many: PodModel[] = [];
    for (let i = 0; i < 300; i++) many.push(pod({ ns: 'x', name: `m${i}`, ip: i < 240 ? `10.244.1.${i + 6}` : `10.244.3.${i - 240}` }));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: [...PODS, ...many], policies: base });
    const p1 = comp.update(s1).plan;
    const pods2 = new Map(s1.pods);
    pods2.set('x/new', pod({ ns: 'x', name: 'new', ip: '10.244.1.253' }));
    pods2.delete('x/m1');
    const p2 = comp.update({ ...s1, pods: pods2 }).plan;
    const d = p2.setDeltas.get('kube-router-local-pods')!;
    expect(d.base).toBe(p1.sets.get('kube-router-local-pods'));
    expect(d.added).toEqual(['10.244.1.253']);
    expect(d.removed).toEqual(['10.244.1.7']);
    // Every delta turns its base into the new entries exactly.
    for (const [name, delta] of p2.setDeltas) {
      const got = new Set(delta.base.entries);
      for (const e of delta.removed) got.delete(e);
      for (const e of delta.added) got.add(e);
      expect([...got].sort(), name).toEqual([...new Set(p2.sets.get(name)!.entries)].sort());
    }
    // Other small sets are diffed whole: no delta (the event-kept ones always carry theirs).
    expect([...p2.setDeltas.keys()].every((n) => p2.sets.get(n)!.entries.length >= 256)).toBe(true);
  });

  it("a namespace's first local pod adds its jumps and pod chains; its last one takes them away", () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: base });
    const p1 = comp.update(s1).plan;
    const podsIn = namespacePodsChainName('z', 'ingress');
    expect(p1.tables.get(4)!.chains.has(podsIn)).toBe(false);
    const zb = pod({ ns: 'z', name: 'b', ip: '10.244.1.9', labels: { pod: 'b' }, ports });
    const pods2 = new Map(s1.pods);
    pods2.set('z/b', zb);
    const p2 = comp.update({ ...s1, pods: pods2 }).plan;
    const forward = p2.tables.get(4)!.chains.get('KUBE-ROUTER-FORWARD')!;
    expect(forward.filter((r) => r.origin.kind === 'namespace-pods').map((r) => r.origin.kind === 'namespace-pods' && r.origin.namespace)).toEqual(['x', 'x', 'y', 'y', 'z', 'z']);
    expect(p2.tables.get(4)!.chains.has(podsIn)).toBe(true);
    expect(p2.sets.get(namespacePodsSetName(4, 'z'))!.entries).toEqual(['10.244.1.9']);
    const p3 = comp.update(s1).plan;
    expect(p3.tables.get(4)!.chains.has(podsIn)).toBe(false);
    expect(p3.sets.has(namespacePodsSetName(4, 'z'))).toBe(false);
    expect(normalize(p3)).toEqual(normalize(p1));
  });

  it('pod IP change, deletion and re-creation converge to the fresh compile', () => {
    const comp = new FirewallCompiler(nodeOptions('node1'));
    const s1 = snapshot({ namespaces: NAMESPACES, pods: PODS, policies: base });
    comp.update(s1);
    const pods2 = new Map(s1.pods);
    pods2.set('x/a', { ...xa, podIPs: ['10.244.1.99'] });
    pods2.delete('y/a');
    const s2 = { ...s1, pods: pods2 };
    const r = comp.update(s2);
    expect(normalize(r.plan)).toEqual(normalize(compileFirewall(s2, nodeOptions('node1'))));
    const pods3 = new Map(pods2);
    pods3.set('y/a', ya);
    const s3 = { ...s1, pods: pods3 };
    expect(normalize(comp.update(s3).plan)).toEqual(normalize(compileFirewall(s3, nodeOptions('node1'))));
  });
});

function normalize(plan: ReturnType<typeof compileFirewall>): unknown {
  return {
    tables: [...plan.tables].map(([f, t]) => [f, [...t.chains].sort(([a], [b]) => a.localeCompare(b)), t.jumps]),
    sets: [...plan.sets.values()].map((s) => ({ ...s, entries: [...s.entries].sort() })).sort((a, b) => a.name.localeCompare(b.name)),
    denySets: [...plan.denySets].sort(),
  };
}

// explain over a fake two-node cluster: endpoint resolution and its errors, the passes it picks per
// path, what it reports per direction, and that its verdicts are the tracer's over each node's plan.
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../cli/parse.js';
import type { AgentConfig } from '../cli/flags.js';
import type { ClusterSnapshot, NodeModel } from '../model/types.js';
import { isKrtError } from '../observe/errors.js';
import { namespace, pod, policy, snapshot } from '../testing/firewall/fixtures.js';
import { Cluster, reach } from '../testing/firewall/reach.js';
import { explainWith } from './command.js';
import { explanationJson, formatExplanation } from './format.js';
import { resolveEndpoint } from './resolve.js';
import type { Protocol } from './explain.js';

const node = (name: string, ip: string, podCIDR: string): NodeModel => ({
  name,
  uid: `uid-${name}`,
  labels: {},
  annotations: {},
  internalIPs: [ip],
  externalIPs: [],
  primaryIP: ip,
  podCIDRs: [podCIDR],
  unschedulable: false,
  ready: true,
});

const a = pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { app: 'a' }, node: 'node1' });
const b = pod({ ns: 'y', name: 'b', ip: '10.244.2.2', labels: { app: 'b' }, node: 'node2' });
const c = pod({ ns: 'y', name: 'c', ip: '10.244.2.3', labels: { app: 'c' }, node: 'node2' });
const pending = pod({ ns: 'x', name: 'pending', ip: [], node: 'node1' });
const done = pod({ ns: 'x', name: 'done', ip: '10.244.1.9', node: 'node1', phase: 'Succeeded' });
const base = snapshot({
  namespaces: [namespace('x'), namespace('y')],
  pods: [a, b, c, pending, done],
  policies: [
    policy('y', 'web', {
      podSelector: { matchLabels: { app: 'b' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }, { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }], ports: [{ port: 80 }] }],
    }),
  ],
});
const snap: ClusterSnapshot = {
  ...base,
  nodes: new Map([
    ['node1', node('node1', '192.168.0.1', '10.244.1.0/24')],
    ['node2', node('node2', '192.168.0.2', '10.244.2.0/24')],
  ]),
};
const outcome = parseAgentArgs(['--service-cluster-ip-range=10.96.0.0/12']);
const config = (outcome.kind === 'run' ? outcome.config : undefined) as AgentConfig;
const ex = (from: string, to: string, port = 80, protocol: Protocol = 'tcp') => explainWith(snap, config, { from, to, port, protocol }).explanation;

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isKrtError(e) ? e.code : 'not a KrtError';
  }
  return undefined;
};

describe('endpoint resolution', () => {
  it('resolves ns/pod, a pod IP, a node address and an address of a pod CIDR', () => {
    expect(resolveEndpoint(snap, 'x/a')).toMatchObject({ kind: 'pod', node: 'node1' });
    expect(resolveEndpoint(snap, '10.244.2.3')).toMatchObject({ kind: 'pod', pod: { name: 'c' } });
    expect(resolveEndpoint(snap, '192.168.0.2')).toMatchObject({ kind: 'node', node: 'node2' });
    expect(resolveEndpoint(snap, '10.244.2.77')).toEqual({ kind: 'address', ip: '10.244.2.77', node: 'node2' });
    expect(resolveEndpoint(snap, '8.8.8.8')).toEqual({ kind: 'address', ip: '8.8.8.8' });
  });

  it('names what is wrong with a code', () => {
    expect(code(() => resolveEndpoint(snap, 'x/nope'))).toBe('KRT_EXPLAIN_UNKNOWN_POD');
    expect(code(() => resolveEndpoint(snap, 'x/pending'))).toBe('KRT_EXPLAIN_POD_NO_IP');
    expect(code(() => resolveEndpoint(snap, 'x/done'))).toBe('KRT_EXPLAIN_POD_NO_IP');
    expect(code(() => resolveEndpoint(snap, 'not an endpoint'))).toBe('KRT_EXPLAIN_ENDPOINT');
    expect(code(() => resolveEndpoint(snap, '10.244.1.300'))).toBe('KRT_EXPLAIN_ENDPOINT');
    const twin = pod({ ns: 'y', name: 'twin', ip: '10.244.1.2', node: 'node1' });
    const dup = { ...snap, pods: new Map([...snap.pods, ['y/twin', twin]]) };
    expect(code(() => resolveEndpoint(dup, '10.244.1.2'))).toBe('KRT_EXPLAIN_AMBIGUOUS_IP');
    expect(code(() => ex('8.8.8.8', '1.1.1.1'))).toBe('KRT_EXPLAIN_NO_PATH');
  });
});

describe('explain', () => {
  it('admitted across nodes: FORWARD out of node1, FORWARD into node2, with the policy rule, peer and port', () => {
    const e = ex('x/a', 'y/b', 80);
    expect(e).toMatchObject({ allowed: true, verdict: 'ACCEPT', from: { ip: '10.244.1.2', node: 'node1' }, to: { ip: '10.244.2.2', node: 'node2' } });
    expect(e.passes.map((p) => [p.node, p.hook, p.bridged])).toEqual([
      ['node1', 'FORWARD', false],
      ['node2', 'FORWARD', false],
    ]);
    const [egress, ingress] = e.directions;
    expect(egress).toMatchObject({ direction: 'egress', pod: 'x/a', node: 'node1', outcome: 'not-isolated', allowed: true, policies: [] });
    expect(ingress).toMatchObject({ direction: 'ingress', pod: 'y/b', node: 'node2', outcome: 'admitted', allowed: true });
    expect(ingress!.policies.map((p) => p.policy)).toEqual(['web']);
    expect(ingress!.admittedBy[0]).toMatchObject({ namespace: 'y', policy: 'web', rule: 1, peer: { kind: 'pods', peers: [0] }, port: { kind: 'port', index: 0, port: 80 } });
    expect(ingress!.chains).toContain(ingress!.policies[0]!.chain);
    expect(ingress!.sets).toContain(ingress!.policies[0]!.targetSet);
  });

  it('denied on a port no rule lists: default deny by the selecting policy, rejected on node2', () => {
    const e = ex('x/a', 'y/b', 81);
    expect(e).toMatchObject({ allowed: false, verdict: 'REJECT' });
    expect(e.directions[1]).toMatchObject({ outcome: 'default-deny', allowed: false, admittedBy: [] });
    expect(e.directions[1]!.policies.map((p) => p.policy)).toEqual(['web']);
    const text = formatExplanation(e);
    expect(text).toContain('DENIED');
    expect(text).toContain('no rule of y/web admits it');
  });

  it('an ipBlock peer from outside: one pass, on the pod node', () => {
    const e = ex('203.0.113.5', 'y/b', 22);
    expect(e.passes.map((p) => [p.node, p.hook])).toEqual([['node2', 'FORWARD']]);
    expect(e.directions).toHaveLength(1);
    expect(e.directions[0]!.admittedBy[0]).toMatchObject({ rule: 0, peer: { kind: 'ipBlock', peer: 0, cidr: '203.0.113.0/24' }, port: { kind: 'any' } });
    expect(formatExplanation(e)).toContain('policy y/web ingress rule 0: peer from[0] ipBlock 203.0.113.0/24');
  });

  it('same node: one bridged FORWARD pass; to the own node: INPUT; from the node: OUTPUT, node-local', () => {
    expect(ex('y/c', 'y/b', 80).passes.map((p) => [p.node, p.hook, p.bridged])).toEqual([['node2', 'FORWARD', true]]);
    expect(ex('y/c', 'y/b', 80).allowed).toBe(false);
    expect(ex('y/b', '192.168.0.2', 22).passes.map((p) => [p.node, p.hook])).toEqual([['node2', 'INPUT']]);
    expect(ex('x/a', '192.168.0.2', 22).passes.map((p) => [p.node, p.hook])).toEqual([
      ['node1', 'FORWARD'],
      ['node2', 'INPUT'],
    ]);
    const fromNode = ex('192.168.0.2', 'y/b', 81);
    expect(fromNode.passes.map((p) => [p.node, p.hook])).toEqual([['node2', 'OUTPUT']]);
    expect(fromNode).toMatchObject({ allowed: true, directions: [{ outcome: 'node-local' }] });
    // Another node's address is no local source on node2: the policy applies.
    expect(ex('192.168.0.1', 'y/b', 81)).toMatchObject({ allowed: false, directions: [{ outcome: 'default-deny' }] });
  });

  it('an address of a pod CIDR that no pod holds is rejected by fail-closed on its node', () => {
    const e = ex('x/a', '10.244.2.77', 80);
    expect(e.allowed).toBe(false);
    const last = e.passes.at(-1)!;
    expect(last.node).toBe('node2');
    expect(last.trace!.steps.at(-1)!.rule.origin).toEqual({ kind: 'base', step: 'fail-closed' });
  });

  it('a pod to itself never reaches a firewall', () => {
    expect(ex('x/a', 'x/a')).toMatchObject({ allowed: true, passes: [] });
  });

  it('agrees with the reachability walk of the compiler tests on every pod pair and port', () => {
    const cluster = new Cluster(['node1', 'node2'], { ranges: { clusterIPRanges: ['10.96.0.0/12'], externalIPRanges: [], loadBalancerIPRanges: [], nodePortRange: { min: 30000, max: 32767 } } }).update(snap);
    for (const f of [a, b, c]) for (const t of [a, b, c]) for (const port of [80, 81]) for (const proto of ['tcp', 'udp'] as const) {
      const want = reach(cluster, f, t, { proto, port }) === 'ACCEPT';
      expect(ex(`${f.namespace}/${f.name}`, `${t.namespace}/${t.name}`, port, proto).allowed, `${f.name}->${t.name} ${proto}/${port}`).toBe(want);
    }
  });

  it('JSON carries each matched rule as iptables-save text beside its origin', () => {
    const j = explanationJson(ex('x/a', 'y/b', 80)) as { passes: { steps: { rule: string; origin: { kind: string } }[] }[] };
    const policySteps = j.passes[1]!.steps.filter((s) => s.origin.kind === 'policy');
    expect(policySteps.length).toBeGreaterThan(0);
    expect(policySteps[0]!.rule).toMatch(/--match-set \S+ src .*--dport 80 .*-j MARK/);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });

  it('with --run-firewall=false nothing filters', () => {
    const o = parseAgentArgs(['--run-firewall=false']);
    const off = explainWith(snap, (o.kind === 'run' ? o.config : undefined) as AgentConfig, { from: 'x/a', to: 'y/b', port: 81, protocol: 'tcp' }).explanation;
    expect(off).toMatchObject({ allowed: true, directions: [{ outcome: 'no-firewall' }, { outcome: 'no-firewall' }] });
  });
});

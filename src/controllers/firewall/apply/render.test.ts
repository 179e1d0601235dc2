// The renderer prints the typed plan exactly as the firewall printed rule text before plans were typed:
// every conformance case (each step, both nodes, failing closed or not) and a dual-stack cluster that
// uses every rule form are rendered and compared with digests of the text the string-building compiler
// emitted (src/testing/firewall/rendered-plans.sha256, written from commit c33bb48). The kernel tests
// (applier.kernel.test.ts) check the other half: iptables-save prints back exactly what we render.
// After an intended change of a rule, regenerate with KRT_UPDATE_GOLDEN=1 and say why in the commit; new
// conformance cases have no digest until then (only the scenarios listed are compared).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileSteps, loadCase } from '../../../testing/firewall/conformance.js';
import { namespace, pod, policy, snapshot } from '../../../testing/firewall/fixtures.js';
import { Cluster, TEST_RANGES } from '../../../testing/firewall/reach.js';
import type { FirewallPlan, Rule } from '../compile/plan.js';
import { compileFirewall } from '../compile/compiler.js';
import { renderRule } from './render.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const GOLDEN = resolve(root, 'src/testing/firewall/rendered-plans.sha256');
const dirs = [resolve(root, '../shared/conformance/netpol'), resolve(root, 'test/conformance/netpol')].filter(existsSync);
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => join(d, f)));

const render = (r: Rule): string => renderRule(r);

/** The whole plan as restore-like text: jumps, then every chain in plan order with its rules. */
function planText(plan: FirewallPlan): string {
  const lines: string[] = [];
  for (const [f, t] of plan.tables) {
    lines.push(`# IPv${f}`);
    for (const j of t.jumps) lines.push(`-I ${j.from} 1 ${render(j.rule)}`);
    for (const [chain, rules] of t.chains) {
      lines.push(`:${chain}`);
      for (const r of rules) lines.push(`-A ${chain} ${render(r)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const digest = (text: string): string => `${createHash('sha256').update(text).digest('hex')} ${text.split('\n').length - 1}`;

function dualStack(): FirewallPlan {
  const ports = [
    { name: 'http', containerPort: 8080, protocol: 'TCP' as const },
    { name: 'dns', containerPort: 53, protocol: 'UDP' as const },
  ];
  const pods = [
    pod({ ns: 'x', name: 'a', ip: ['10.244.1.2', 'fd00:1::2'], labels: { app: 'a' }, ports }),
    pod({ ns: 'x', name: 'b', ip: ['10.244.1.3', 'fd00:1::3'], labels: { app: 'b' }, ports }),
    pod({ ns: 'y', name: 'c', ip: ['10.244.2.4', 'fd00:2::4'], node: 'node2', labels: { app: 'c' }, ports }),
  ];
  const policies = [
    policy('x', 'every-form', {
      podSelector: { matchLabels: { app: 'a' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: 'b' } } }, { namespaceSelector: { matchLabels: { team: 'blue' } }, podSelector: {} }], ports: [{ port: 'http' }, { port: 80, endPort: 90 }, { port: 443 }] },
        { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.2.0/24'] } }, { ipBlock: { cidr: 'fd00::/16', except: ['fd00:2::/64'] } }], ports: [{ protocol: 'SCTP', port: 132 }, { protocol: 'UDP' }] },
        {},
      ],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }, { ipBlock: { cidr: '::/0' } }] }, { ports: [{ port: 'dns', protocol: 'UDP' }] }],
    }),
    policy('y', 'deny', { podSelector: {}, ingress: [] }),
  ];
  const s = snapshot({ namespaces: [namespace('x', { team: 'blue' }), namespace('y')], pods, policies });
  return compileFirewall(s, {
    nodeName: 'node1',
    families: [4, 6],
    podCIDRs: ['10.244.1.0/24', 'fd00:1::/64'],
    ranges: {
      ...TEST_RANGES,
      clusterIPRanges: ['10.96.0.0/12', 'fd00:96::/108'],
      externalIPRanges: ['198.51.100.0/24', '2001:db8::/64'],
      loadBalancerIPRanges: ['203.0.113.0/24'],
    },
  });
}

/** Every scenario's rendered text, by a stable key. */
function scenarios(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of files) {
    const c = loadCase(file);
    for (const [mode, extra] of [['fail-closed', {}], ['open', { podCIDRs: [] }]] as const) {
      compileSteps(c, extra, (step, _spec, cluster: Cluster) => {
        for (const node of ['node1', 'node2']) out.set(`${c.name} ${mode} step${step} ${node}`, planText(cluster.plan(node)));
      });
    }
  }
  out.set('dual-stack every-form node1', planText(dualStack()));
  return out;
}

function readGolden(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(GOLDEN, 'utf8').split('\n')) {
    const [hash, count, ...key] = line.split(' ');
    if (hash && count) m.set(key.join(' '), `${hash} ${count}`);
  }
  return m;
}

describe('rendered plans', () => {
  it('are byte-identical to the rule text of the string-building compiler', () => {
    const now = scenarios();
    if (process.env.KRT_UPDATE_GOLDEN === '1') {
      const keys = [...now.keys()].sort();
      writeFileSync(GOLDEN, keys.map((k) => `${digest(now.get(k)!)} ${k}`).join('\n') + '\n');
    }
    const golden = readGolden();
    expect(golden.size).toBeGreaterThan(100);
    // Every scenario the digests cover must still be produced (the shared cases live outside the repository
    // and count only where they are checked out). Cases added later have no digest: they were never text.
    const sharedHere = dirs.length === 2;
    const missing = [...golden.keys()].filter((k) => !now.has(k) && (sharedHere || k.startsWith('derived-') || k.startsWith('dual-stack')));
    expect(missing).toEqual([]);
    expect([...golden.keys()].filter((k) => k.startsWith('derived-')).length).toBeGreaterThan(20);
    const differ = [...golden].filter(([k, d]) => now.has(k) && digest(now.get(k)!) !== d).map(([k]) => k);
    expect(differ).toEqual([]);
    expect(now.has('dual-stack every-form node1')).toBe(true);
    // Compiles every conformance case twice over (~3 s alone): the default 5 s is too short at load 8+.
  }, 30_000);

  it('prints each rule form the way iptables-save does', () => {
    const plan = dualStack();
    const v4 = plan.tables.get(4)!;
    const v6 = plan.tables.get(6)!;
    const all = [...v4.chains.values(), ...v6.chains.values()].flat().map(render);
    // One of each form, so a change of the format shows here in words, not only as a digest.
    expect(all).toContain('-m comment --comment "rule for stateful firewall for pod" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
    expect(all).toContain('-p ipv6-icmp -m comment --comment "allow icmp echo requests" -m icmp6 --icmpv6-type 128 -j ACCEPT');
    expect(all).toContain('-p tcp -m comment --comment "allow LOCAL TCP traffic to node ports" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN');
    expect(all).toContain(`-m comment --comment "rule to permit the traffic traffic to pods when source is the pod\\'s local node" -m addrtype --src-type LOCAL -j ACCEPT`);
    expect(all.some((r) => /^-m comment --comment "rule to jump traffic destined to PODs of namespace: \S+ to chain KUBE-POD-FW-IN-\S+" -m set --match-set KUBE-NSP-\S+ dst -j KUBE-POD-FW-IN-/.test(r))).toBe(true);
    expect(all).toContain('-m comment --comment "rule to clear the policy mark for the next chain" -j MARK --set-xmark 0x0/0x10000');
    expect(all.filter((r) => / -m tcp --dport 80:90 -m mark --mark 0x10000\/0x10000 -j RETURN$/.test(r))).toHaveLength(2);
    expect(all.some((r) => r.startsWith('-d fd00:1::/64 -m comment --comment "rule to REJECT traffic to pods whose firewall is not programmed yet" -m set ! --match-set inet6:kube-router-local-pods dst -m addrtype ! --dst-type LOCAL -j REJECT --reject-with icmp6-port-unreachable'))).toBe(true);
    expect(render(v4.jumps[0]!.rule)).toBe('-m comment --comment "kube-router netpol - jump to KUBE-ROUTER-INPUT" -j KUBE-ROUTER-INPUT');
  });
});

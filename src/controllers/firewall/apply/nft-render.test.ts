import { describe, expect, it } from 'vitest';
import { compileFirewall } from '../compile/compiler.js';
import { namespace, pod, policy, snapshot } from '../../../testing/firewall/fixtures.js';
import { TEST_RANGES } from '../../../testing/firewall/reach.js';
import { netRanges, nftChain, nftChainRules, nftElements, nftRule, nftSet } from './nft-render.js';
import { namespacePodsChainName, namespacePodsSetName, policyChainName } from '../compile/names.js';

describe('nft rendering of the typed plan', () => {
  it('cuts ipBlock exceptions out of the block: disjoint ranges with the same addresses as hash:net nomatch', () => {
    expect(netRanges(['10.0.0.0/8', '10.244.5.0/24 nomatch'], 4)).toEqual(['10.0.0.0-10.244.4.255', '10.244.6.0-10.255.255.255']);
    // /0 split in halves by the compiler, one host excepted, nested exceptions.
    expect(netRanges(['0.0.0.0/1', '128.0.0.0/1', '169.254.169.254 nomatch'], 4)).toEqual([
      '0.0.0.0-127.255.255.255',
      '128.0.0.0-169.254.169.253',
      '169.254.169.255-255.255.255.255',
    ]);
    expect(netRanges(['10.0.0.0/16', '10.0.1.0/24 nomatch', '10.0.1.128/25 nomatch'], 4)).toEqual(['10.0.0.0-10.0.0.255', '10.0.2.0-10.0.255.255']);
    expect(netRanges(['fd00::/64', 'fd00::1 nomatch'], 6)).toEqual(['fd00::', 'fd00::2-fd00::ffff:ffff:ffff:ffff']);
  });

  it('names IPv6 objects apart inside the one inet table', () => {
    expect(nftSet('inet6:KUBE-DST-ABC')).toBe('KUBE-DST-ABC-6');
    expect(nftSet('KUBE-DST-ABC')).toBe('KUBE-DST-ABC');
    expect(nftChain('KUBE-ROUTER-FORWARD', 6)).toBe('KUBE-ROUTER-FORWARD-6');
  });

  it('renders set dispatch: one set-guarded jump pair per namespace in the top-level chains, named ports as concatenations', () => {
    const s = snapshot({
      namespaces: [namespace('x', {})],
      pods: [pod({ ns: 'x', name: 'a', ip: '10.244.1.2', node: 'node1', labels: { app: 'a' }, ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] })],
      policies: [policy('x', 'p', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ ports: [{ port: 'http' }] }] })],
    });
    const plan = compileFirewall(s, { nodeName: 'node1', families: [4], podCIDRs: ['10.244.1.0/24'], ranges: TEST_RANGES });
    const t = plan.tables.get(4)!;
    const forward = t.chains.get('KUBE-ROUTER-FORWARD')!.map((r) => nftRule(r, 4));
    const nsSet = namespacePodsSetName(4, 'x');
    const podsIn = namespacePodsChainName('x', 'ingress');
    const podsEg = namespacePodsChainName('x', 'egress');
    expect(forward).toEqual([
      'jump KUBE-NWPLCY-TAIL comment "rule to reject traffic of pods whose firewall is not programmed yet"',
      `ip daddr @${nsSet} jump ${podsIn} comment "rule to jump traffic destined to PODs of namespace: x to chain ${podsIn}"`,
      `ip saddr @${nsSet} jump ${podsEg} comment "rule to jump traffic from PODs of namespace: x to chain ${podsEg}"`,
      'meta mark & 0x20000 == 0x20000 accept comment "rule to explicitly ACCEPT traffic that comply to network policies"',
    ]);
    // No per-pod chain: the namespace's two pod chains, and its set holds the pod.
    expect([...t.chains.keys()].filter((c) => c.startsWith('KUBE-POD-FW-')).sort()).toEqual([podsEg, podsIn]);
    expect(podsIn).toMatch(/^KUBE-POD-FW-IN-[A-Z2-7]{13}$/);
    expect(plan.sets.get(nsSet)!.entries).toEqual(['10.244.1.2']);
    const named = [...plan.sets.values()].find((x) => x.type === 'hash:ip,port')!;
    expect(nftElements(named)).toEqual(['10.244.1.2 . tcp . 80']);
    const rules = [...t.chains.values()].flat().map((r) => nftRule(r, 4));
    expect(rules.some((r) => r.includes('ip daddr . meta l4proto . th dport @KUBE-DST-'))).toBe(true);
    expect(rules.some((r) => r.startsWith('meta mark & 0x10000 != 0x10000 reject with icmp type port-unreachable'))).toBe(true);
  });

  it('fuses each policy rule\'s mark-then-return pair into one rule, and keeps every other rule as it is', () => {
    const s = snapshot({
      namespaces: [namespace('x', {})],
      pods: [pod({ ns: 'x', name: 'a', ip: '10.244.1.2', node: 'node1', labels: { app: 'a' } })],
      policies: [policy('x', 'p', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 80 }, { port: 443 }] }] })],
    });
    const plan = compileFirewall(s, { nodeName: 'node1', families: [4], podCIDRs: ['10.244.1.0/24'], ranges: TEST_RANGES });
    const t = plan.tables.get(4)!;
    const rules = t.chains.get(policyChainName('x', 'p', 'ingress'))!;
    expect(rules.map((r) => r.target.kind)).toEqual(['MARK', 'RETURN', 'MARK', 'RETURN']);
    const fused = nftChainRules(rules, 4);
    expect(fused).toHaveLength(2);
    // The pair's matches, its mark, then return: what the pair does, in one rule.
    expect(fused[0]).toBe(nftRule(rules[0]!, 4).replace(' comment ', ' return comment '));
    expect(fused[0]).toMatch(/th dport 80 meta mark set meta mark & 0xfffeffff \| 0x10000 return comment "/);
    expect(fused[1]).toMatch(/th dport 443 meta mark set .* return comment "/);
    // Chains without such pairs render rule by rule.
    const forward = t.chains.get('KUBE-ROUTER-FORWARD')!;
    expect(nftChainRules(forward, 4)).toEqual(forward.map((r) => nftRule(r, 4)));
  });
});

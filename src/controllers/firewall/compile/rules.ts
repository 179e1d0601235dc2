// Rule rendering in the exact form `iptables-save` prints (-s/-d/-p first, then matches in the order
// given), so a restarted agent recognises its own rules and rewrites nothing. Comments follow
// kube-router's wording so an operator who knows its rules recognises ours.
import { quoteComment } from '../../../dataplane/iptables/restore.js';
import type { IPFamily } from '../../../model/types.js';
import {
  CHAIN_COMMON,
  CHAIN_DEFAULT,
  CHAIN_TAIL,
  MARK_NETPOL_OK,
  MARK_POLICY,
} from './names.js';

export interface RuleParts {
  readonly src?: string;
  readonly dst?: string;
  readonly proto?: string;
  readonly comment: string;
  readonly matches?: readonly string[];
  readonly target: string;
}

/** iptables-save prints a bare address with its full prefix length. */
export function hostCidr(ip: string): string {
  if (ip.includes('/')) return ip;
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

export function rule(p: RuleParts): string {
  const out: string[] = [];
  if (p.src) out.push(`-s ${hostCidr(p.src)}`);
  if (p.dst) out.push(`-d ${hostCidr(p.dst)}`);
  if (p.proto) out.push(`-p ${p.proto}`);
  out.push(`-m comment --comment ${quoteComment(p.comment)}`);
  for (const m of p.matches ?? []) if (m) out.push(m);
  out.push(`-j ${p.target}`);
  return out.join(' ');
}

export function matchSet(name: string, dir: string, negate = false): string {
  return `-m set ${negate ? '! ' : ''}--match-set ${name} ${dir}`;
}

export function rejectTarget(family: IPFamily): string {
  return `REJECT --reject-with ${family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`;
}

/** INVALID drop, stateful accept, and the ICMP a pod always needs (kube-router's COMMON chain). */
export function commonChain(family: IPFamily): string[] {
  const rules = [
    rule({ comment: 'rule to drop invalid state for pod', matches: ['-m conntrack --ctstate INVALID'], target: 'DROP' }),
    rule({
      comment: 'rule for stateful firewall for pod',
      matches: ['-m conntrack --ctstate RELATED,ESTABLISHED'],
      target: 'ACCEPT',
    }),
  ];
  const icmp: Array<[string, number]> =
    family === 4
      ? [
          ['allow icmp echo requests', 8],
          ['allow icmp destination unreachable messages', 3],
          ['allow icmp time exceeded messages', 11],
        ]
      : [
          ['allow icmp echo requests', 128],
          ['allow icmp echo reply', 129],
          ['allow icmp destination unreachable messages', 1],
          ['allow icmp time exceeded messages', 3],
          ['allow icmp neighbour solicitation messages', 135],
          ['allow icmp neighbour advertisement messages', 136],
        ];
  for (const [comment, type] of icmp) {
    rules.push(
      family === 4
        ? rule({ proto: 'icmp', comment, matches: [`-m icmp --icmp-type ${type}`], target: 'ACCEPT' })
        : rule({ proto: 'ipv6-icmp', comment, matches: [`-m icmp6 --icmpv6-type ${type}`], target: 'ACCEPT' }),
    );
  }
  return rules;
}

export function defaultChain(): string[] {
  return [rule({ comment: 'rule to mark traffic matching a network policy', target: `MARK --set-xmark ${MARK_POLICY}` })];
}

/**
 * Fail-closed for pods not programmed yet: an address of this node's pod CIDR(s) that is not in
 * `kube-router-local-pods` (pods whose chain is in the kernel) is logged and rejected, both ways. It runs
 * first in each KUBE-ROUTER-* chain, so nothing a pod chain accepts outright (ICMP echo, established
 * flows, node-local sources) can reach or leave such an address. The node's own addresses (the bridge
 * gateway, first of the CIDR) are exempt, so programmed pods keep their gateway; IPv6 neighbour discovery
 * is exempt too, so a pod resolves its gateway before being programmed and is reachable the moment it is.
 */
export function tailChain(family: IPFamily, podCIDRs: readonly string[], localPodsSet: string): string[] {
  const out: string[] = [];
  if (family === 6) {
    for (const [name, type] of [['router solicitation', 133], ['router advertisement', 134], ['neighbour solicitation', 135], ['neighbour advertisement', 136]] as const) {
      out.push(rule({ proto: 'ipv6-icmp', comment: `allow icmp ${name} messages before pods are programmed`, matches: [`-m icmp6 --icmpv6-type ${type}`], target: 'RETURN' }));
    }
  }
  const limit = '-m limit --limit 10/min --limit-burst 10';
  for (const cidr of podCIDRs) {
    const to = { dst: cidr, matches: [matchSet(localPodsSet, 'dst', true), '-m addrtype ! --dst-type LOCAL'] };
    const from = { src: cidr, matches: [matchSet(localPodsSet, 'src', true), '-m addrtype ! --src-type LOCAL'] };
    out.push(
      rule({ ...to, comment: 'rule to log traffic to pods whose firewall is not programmed yet', matches: [...to.matches, limit], target: 'NFLOG --nflog-group 100' }),
      rule({ ...to, comment: 'rule to REJECT traffic to pods whose firewall is not programmed yet', target: rejectTarget(family) }),
      rule({ ...from, comment: 'rule to log traffic from pods whose firewall is not programmed yet', matches: [...from.matches, limit], target: 'NFLOG --nflog-group 100' }),
      rule({ ...from, comment: 'rule to REJECT traffic from pods whose firewall is not programmed yet', target: rejectTarget(family) }),
    );
  }
  return out;
}

export interface ServiceRanges {
  readonly clusterIPRanges: readonly string[];
  readonly externalIPRanges: readonly string[];
  readonly loadBalancerIPRanges: readonly string[];
  readonly nodePortRange: { readonly min: number; readonly max: number };
}

/** KUBE-ROUTER-INPUT starts by letting service traffic through, as kube-router does. */
export function inputHead(family: IPFamily, r: ServiceRanges): string[] {
  const fam = (c: string): boolean => c.includes(':') === (family === 6);
  const out: string[] = [];
  for (const c of r.clusterIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: 'allow traffic to primary/secondary cluster IP range', target: 'RETURN' }));
  }
  for (const proto of ['tcp', 'udp', 'sctp']) {
    out.push(
      rule({
        proto,
        comment: `allow LOCAL ${proto.toUpperCase()} traffic to node ports`,
        matches: ['-m addrtype --dst-type LOCAL', `-m multiport --dports ${r.nodePortRange.min}:${r.nodePortRange.max}`],
        target: 'RETURN',
      }),
    );
  }
  for (const c of r.externalIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: `allow traffic to external IP range: ${c}`, target: 'RETURN' }));
  }
  for (const c of r.loadBalancerIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: `allow traffic to load balancer IP range: ${c}`, target: 'RETURN' }));
  }
  return out;
}

/** First rule of each KUBE-ROUTER-* chain when the pod CIDR is known: the fail-closed check. */
export function topLevelHead(failClosed: boolean): string[] {
  return failClosed ? [rule({ comment: 'rule to reject traffic of pods whose firewall is not programmed yet', target: CHAIN_TAIL })] : [];
}

export function topLevelTail(): string[] {
  return [
    rule({
      comment: 'rule to explicitly ACCEPT traffic that comply to network policies',
      matches: [`-m mark --mark ${MARK_NETPOL_OK}`],
      target: 'ACCEPT',
    }),
  ];
}

export interface PodChainInput {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly family: IPFamily;
  readonly nsIngressChain: string;
  readonly nsEgressChain: string;
  readonly ingressIsolatedSet: string;
  readonly egressIsolatedSet: string;
}

/**
 * A pod's chain depends on the pod alone: which policies apply is decided by set membership in the
 * namespace dispatch chains, so a label change never rewrites it.
 */
export function podChain(p: PodChainInput): string[] {
  const who = `POD name:${p.name} namespace: ${p.namespace}`;
  return [
    rule({ comment: 'rule to jump traffic to common chain for pod', target: CHAIN_COMMON }),
    rule({
      dst: p.ip,
      comment: "rule to permit the traffic traffic to pods when source is the pod's local node",
      matches: ['-m addrtype --src-type LOCAL'],
      target: 'ACCEPT',
    }),
    rule({
      dst: p.ip,
      comment: `rule to apply default allow to ingress of ${who} not selected by any ingress policy`,
      matches: [matchSet(p.ingressIsolatedSet, 'dst', true)],
      target: CHAIN_DEFAULT,
    }),
    rule({ dst: p.ip, comment: `rule to run ingress network policies of namespace ${p.namespace}`, target: p.nsIngressChain }),
    rule({
      src: p.ip,
      comment: `rule to apply default allow to egress of ${who} not selected by any egress policy`,
      matches: [matchSet(p.egressIsolatedSet, 'src', true)],
      target: CHAIN_DEFAULT,
    }),
    rule({ src: p.ip, comment: `rule to run egress network policies of namespace ${p.namespace}`, target: p.nsEgressChain }),
    rule({
      comment: `rule to log dropped traffic ${who}`,
      matches: [`-m mark ! --mark ${MARK_POLICY}`, '-m limit --limit 10/min --limit-burst 10'],
      target: 'NFLOG --nflog-group 100',
    }),
    rule({
      comment: `rule to REJECT traffic destined for ${who}`,
      matches: [`-m mark ! --mark ${MARK_POLICY}`],
      target: rejectTarget(p.family),
    }),
    rule({ comment: 'rule to clear the policy mark for the next chain', target: 'MARK --set-xmark 0x0/0x10000' }),
    rule({
      comment: 'set mark to ACCEPT traffic that comply to network policies',
      target: `MARK --set-xmark ${MARK_NETPOL_OK}`,
    }),
  ];
}

export interface PodJumps {
  readonly input: string[];
  readonly forward: string[];
  readonly output: string[];
}

/**
 * kube-router adds a second FORWARD jump with `-m physdev --physdev-is-bridged` per direction; it is a
 * strict subset of the plain `-d/-s podIP` jump (bridged packets reach FORWARD through br_netfilter and
 * match it first), so it only ran the pod chain twice per packet and, on nft, made every commit's kernel
 * validation walk each pod chain two more times. Left out.
 */
export function podJumps(namespace: string, name: string, ip: string, chain: string): PodJumps {
  const to = `rule to jump traffic destined to POD name:${name} namespace: ${namespace} to chain ${chain}`;
  const from = `rule to jump traffic from POD name:${name} namespace: ${namespace} to chain ${chain}`;
  return {
    input: [rule({ src: ip, comment: from, target: chain })],
    forward: [rule({ dst: ip, comment: to, target: chain }), rule({ src: ip, comment: from, target: chain })],
    output: [rule({ dst: ip, comment: to, target: chain }), rule({ src: ip, comment: from, target: chain })],
  };
}

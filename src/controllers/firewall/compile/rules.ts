// The chains every node has (COMMON, DEFAULT, TAIL, the head and tail of the top-level chains) and the
// namespaces' pod chains and set-guarded jumps, as typed rules. Matches are listed in the order iptables-save prints them
// (apply/render.ts puts -s/-d/-p first), so a restarted agent recognises its own rules and rewrites
// nothing. Comments follow kube-router's wording so an operator who knows its rules recognises ours.
import type { IPFamily } from '../../../model/types.js';
import { CHAIN_COMMON, CHAIN_DEFAULT, CHAIN_TAIL, MARK_NETPOL_OK, MARK_POLICY } from './names.js';
import type { BaseStep, CtState, Match, PodStep, Rule, RuleOrigin, RuleProtocol, Target } from './plan.js';

export interface RuleParts {
  readonly src?: string;
  readonly dst?: string;
  readonly proto?: RuleProtocol;
  readonly comment: string;
  readonly matches?: readonly Match[];
  readonly target: Target;
  readonly origin: RuleOrigin;
}

const NO_MATCHES: readonly Match[] = [];

/** Every rule has the same fields in the same order (absent ones undefined): one object shape for V8. */
export function rule(p: RuleParts): Rule {
  return { src: p.src, dst: p.dst, proto: p.proto, comment: p.comment, matches: p.matches ?? NO_MATCHES, target: p.target, origin: p.origin };
}

export const ACCEPT: Target = { kind: 'ACCEPT' };
export const DROP: Target = { kind: 'DROP' };
export const RETURN: Target = { kind: 'RETURN' };
export const NFLOG: Target = { kind: 'NFLOG', group: 100 };
export const SET_POLICY_MARK: Target = { kind: 'MARK', mark: MARK_POLICY };
const LOG_LIMIT: Match = { kind: 'limit', rate: '10/min', burst: 10 };

export function jump(chain: string): Target {
  return { kind: 'jump', chain };
}

export function matchSet(set: string, dir: 'src' | 'dst' | 'dst,dst', negate = false): Match {
  return { kind: 'set', set, dir, negate };
}

export function rejectTarget(family: IPFamily): Target {
  return { kind: 'REJECT', with: family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable' };
}

function ctstate(...states: CtState[]): Match {
  return { kind: 'conntrack', states };
}

const base = (step: BaseStep): RuleOrigin => ({ kind: 'base', step });

/** INVALID drop, stateful accept, and the ICMP a pod always needs (kube-router's COMMON chain). */
export function commonChain(family: IPFamily): Rule[] {
  const origin = base('common');
  const rules = [
    rule({ comment: 'rule to drop invalid state for pod', matches: [ctstate('INVALID')], target: DROP, origin }),
    rule({ comment: 'rule for stateful firewall for pod', matches: [ctstate('RELATED', 'ESTABLISHED')], target: ACCEPT, origin }),
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
    rules.push(rule({ proto: family === 4 ? 'icmp' : 'ipv6-icmp', comment, matches: [{ kind: 'icmp', family, type }], target: ACCEPT, origin }));
  }
  return rules;
}

export function defaultChain(): Rule[] {
  return [rule({ comment: 'rule to mark traffic matching a network policy', target: SET_POLICY_MARK, origin: base('default-allow') })];
}

/**
 * Fail-closed for pods not programmed yet: an address of this node's pod CIDR(s) that is not in
 * `kube-router-local-pods` (pods whose chain is in the kernel) is logged and rejected, both ways. It runs
 * first in each KUBE-ROUTER-* chain, so nothing a pod chain accepts outright (ICMP echo, established
 * flows, node-local sources) can reach or leave such an address. The node's own addresses (the bridge
 * gateway, first of the CIDR) are exempt, so programmed pods keep their gateway; IPv6 neighbour discovery
 * is exempt too, so a pod resolves its gateway before being programmed and is reachable the moment it is.
 */
export function tailChain(family: IPFamily, podCIDRs: readonly string[], localPodsSet: string): Rule[] {
  const origin = base('fail-closed');
  const out: Rule[] = [];
  if (family === 6) {
    for (const [name, type] of [['router solicitation', 133], ['router advertisement', 134], ['neighbour solicitation', 135], ['neighbour advertisement', 136]] as const) {
      out.push(rule({ proto: 'ipv6-icmp', comment: `allow icmp ${name} messages before pods are programmed`, matches: [{ kind: 'icmp', family, type }], target: RETURN, origin }));
    }
  }
  for (const cidr of podCIDRs) {
    const to = { dst: cidr, matches: [matchSet(localPodsSet, 'dst', true), { kind: 'addrtype', side: 'dst', negate: true } as const], origin };
    const from = { src: cidr, matches: [matchSet(localPodsSet, 'src', true), { kind: 'addrtype', side: 'src', negate: true } as const], origin };
    out.push(
      rule({ ...to, comment: 'rule to log traffic to pods whose firewall is not programmed yet', matches: [...to.matches, LOG_LIMIT], target: NFLOG }),
      rule({ ...to, comment: 'rule to REJECT traffic to pods whose firewall is not programmed yet', target: rejectTarget(family) }),
      rule({ ...from, comment: 'rule to log traffic from pods whose firewall is not programmed yet', matches: [...from.matches, LOG_LIMIT], target: NFLOG }),
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
export function inputHead(family: IPFamily, r: ServiceRanges): Rule[] {
  const origin = base('service');
  const fam = (c: string): boolean => c.includes(':') === (family === 6);
  const out: Rule[] = [];
  for (const c of r.clusterIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: 'allow traffic to primary/secondary cluster IP range', target: RETURN, origin }));
  }
  for (const proto of ['tcp', 'udp', 'sctp'] as const) {
    out.push(
      rule({
        proto,
        comment: `allow LOCAL ${proto.toUpperCase()} traffic to node ports`,
        matches: [
          { kind: 'addrtype', side: 'dst' },
          { kind: 'multiport', from: r.nodePortRange.min, to: r.nodePortRange.max },
        ],
        target: RETURN,
        origin,
      }),
    );
  }
  for (const c of r.externalIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: `allow traffic to external IP range: ${c}`, target: RETURN, origin }));
  }
  for (const c of r.loadBalancerIPRanges.filter(fam)) {
    out.push(rule({ dst: c, comment: `allow traffic to load balancer IP range: ${c}`, target: RETURN, origin }));
  }
  return out;
}

/** First rule of each KUBE-ROUTER-* chain when the pod CIDR is known: the fail-closed check. */
export function topLevelHead(failClosed: boolean): Rule[] {
  return failClosed
    ? [rule({ comment: 'rule to reject traffic of pods whose firewall is not programmed yet', target: jump(CHAIN_TAIL), origin: base('fail-closed') })]
    : [];
}

export function topLevelTail(): Rule[] {
  return [
    rule({
      comment: 'rule to explicitly ACCEPT traffic that comply to network policies',
      matches: [{ kind: 'mark', mark: MARK_NETPOL_OK }],
      target: ACCEPT,
      origin: base('accept-marked'),
    }),
  ];
}

/** The jump from a built-in chain (INPUT/FORWARD/OUTPUT) to ours. */
export function builtinJump(from: 'INPUT' | 'FORWARD' | 'OUTPUT'): Rule {
  return rule({ comment: `kube-router netpol - jump to KUBE-ROUTER-${from}`, target: jump(`KUBE-ROUTER-${from}`), origin: base('top-level-jump') });
}

/**
 * The rules of a namespace's pod chain for one direction (kube-router's per-pod chain, shared by every
 * local pod of the namespace): COMMON, node-local accept (ingress), default allow unless isolated, the
 * namespace's policy dispatch, NFLOG + REJECT unless a policy marked the packet, clear that mark, set
 * the accepted mark. No address guard: the top-level jump's set match already chose the pod. A pod
 * reaching itself through the node runs both directions' chains, so both must admit it.
 */
export function namespacePodsChain(namespace: string, family: IPFamily, dir: 'ingress' | 'egress', nsChain: string, isolatedSet: string): Rule[] {
  const origin = (step: PodStep): RuleOrigin => ({ kind: 'namespace-pods', namespace, direction: dir, step });
  const who = `POD of namespace: ${namespace}`;
  const notPolicyMarked: Match = { kind: 'mark', mark: MARK_POLICY, negate: true };
  const out: Rule[] = [rule({ comment: 'rule to jump traffic to common chain for pod', target: jump(CHAIN_COMMON), origin: origin('common') })];
  if (dir === 'ingress') {
    out.push(
      rule({
        comment: "rule to permit the traffic traffic to pods when source is the pod's local node",
        matches: [{ kind: 'addrtype', side: 'src' }],
        target: ACCEPT,
        origin: origin('node-local'),
      }),
      rule({
        comment: `rule to apply default allow to ingress of ${who} not selected by any ingress policy`,
        matches: [matchSet(isolatedSet, 'dst', true)],
        target: jump(CHAIN_DEFAULT),
        origin: origin('default-ingress'),
      }),
      rule({ comment: `rule to run ingress network policies of namespace ${namespace}`, target: jump(nsChain), origin: origin('ingress-policies') }),
    );
  } else {
    out.push(
      rule({
        comment: `rule to apply default allow to egress of ${who} not selected by any egress policy`,
        matches: [matchSet(isolatedSet, 'src', true)],
        target: jump(CHAIN_DEFAULT),
        origin: origin('default-egress'),
      }),
      rule({ comment: `rule to run egress network policies of namespace ${namespace}`, target: jump(nsChain), origin: origin('egress-policies') }),
    );
  }
  out.push(
    rule({ comment: `rule to log dropped traffic ${who}`, matches: [notPolicyMarked, LOG_LIMIT], target: NFLOG, origin: origin('log-rejected') }),
    rule({ comment: `rule to REJECT traffic destined for ${who}`, matches: [notPolicyMarked], target: rejectTarget(family), origin: origin('reject') }),
    rule({
      comment: 'rule to clear the policy mark for the next chain',
      target: { kind: 'MARK', mark: { value: 0, mask: MARK_POLICY.mask } },
      origin: origin('clear-mark'),
    }),
    rule({ comment: 'set mark to ACCEPT traffic that comply to network policies', target: { kind: 'MARK', mark: MARK_NETPOL_OK }, origin: origin('accepted-mark') }),
  );
  return out;
}

/** One namespace's rules in the top-level chains (INPUT sees only what pods send to the node). */
export interface NamespaceJumps {
  readonly input: Rule[];
  readonly forward: Rule[];
  readonly output: Rule[];
}

/**
 * Dispatch by set: traffic to a local pod of the namespace enters its ingress pod chain, traffic from
 * one its egress pod chain. One pair per namespace with local pods, so a new pod is a set element and
 * no rule changes (kube-router: two jumps per pod). kube-router's extra `--physdev-is-bridged` FORWARD
 * jumps are left out: bridged packets reach FORWARD through br_netfilter and match these already.
 */
export function namespaceJumps(namespace: string, podsSet: string, ingressChain: string, egressChain: string): NamespaceJumps {
  const to = rule({
    comment: `rule to jump traffic destined to PODs of namespace: ${namespace} to chain ${ingressChain}`,
    matches: [matchSet(podsSet, 'dst')],
    target: jump(ingressChain),
    origin: { kind: 'namespace-pods', namespace, direction: 'ingress', step: 'jump-to-pod' },
  });
  const from = rule({
    comment: `rule to jump traffic from PODs of namespace: ${namespace} to chain ${egressChain}`,
    matches: [matchSet(podsSet, 'src')],
    target: jump(egressChain),
    origin: { kind: 'namespace-pods', namespace, direction: 'egress', step: 'jump-from-pod' },
  });
  // The same rule object in every chain that holds it: rendered once, compared by identity.
  return { input: [from], forward: [to, from], output: [to, from] };
}

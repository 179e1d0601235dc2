// `kube-router explain` itself: which node firewalls see a packet from FROM to TO, on which netfilter
// hook, and what each decides. Every verdict comes from tracePacket (controllers/firewall/compile/
// trace.ts) over the plan compileFirewall builds for that node with the options its agent derives
// (controllers/firewall/options.ts): the same plan the agent programs, so explain has no policy
// semantics of its own. This file only picks the passes and reads the trace back as directions.
//
// The hooks, from the firewall's top-level jumps (compile/emit.ts, rules.ts podJumps): KUBE-ROUTER-FORWARD
// jumps to a local pod's chain for traffic to and from it, KUBE-ROUTER-INPUT for traffic from it to the
// node, KUBE-ROUTER-OUTPUT for traffic from the node to it. So:
//   pod -> pod, same node          one FORWARD pass on that node (bridged)
//   pod -> pod, other node         FORWARD on the source node (routed out), FORWARD on the destination node
//   pod -> its own node            INPUT on that node
//   pod -> another node            FORWARD on the pod's node, INPUT on the other node
//   node -> pod on it              OUTPUT on that node
//   node -> pod elsewhere          OUTPUT on the sending node, FORWARD on the pod's node
//   address -> pod                 FORWARD on the pod's node
//   pod -> address                 FORWARD on the pod's node (and on the node whose pod CIDR holds it)
import type { FirewallOptions } from '../controllers/firewall/controller.js';
import { compileFirewall } from '../controllers/firewall/compile/compiler.js';
import type { Direction, FirewallPlan, PeerOrigin, PortOrigin, Rule } from '../controllers/firewall/compile/plan.js';
import { tracePacket, type TraceResult, type TraceStep, type Verdict } from '../controllers/firewall/compile/trace.js';
import { deriveCompileOptions } from '../controllers/firewall/options.js';
import { CHAIN_FORWARD } from '../controllers/firewall/compile/names.js';
import type { ClusterSnapshot, IPFamily } from '../model/types.js';
import { KrtError } from '../observe/errors.js';
import { localAddresses, resolvePair, type Resolved } from './resolve.js';

export type Hook = 'INPUT' | 'FORWARD' | 'OUTPUT';
export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface ExplainQuery {
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface ExplainContext {
  readonly snapshot: ClusterSnapshot;
  /** The firewall options of a node's agent (firewallOptionsFrom of its flags), or undefined when it runs no firewall. */
  readonly firewallOptions: (node: string) => FirewallOptions | undefined;
  /** Plans already compiled for this snapshot, by node (the conformance check reuses them across probes). */
  readonly plans?: Map<string, FirewallPlan | undefined>;
}

/** One traversal of one node's filter table. */
export interface Pass {
  readonly node: string;
  readonly hook: Hook;
  readonly bridged: boolean;
  /** False when an earlier pass already dropped the packet (the trace is still shown). */
  readonly reached: boolean;
  /** Undefined when the node runs no firewall (nothing filters there). */
  readonly trace?: TraceResult;
  readonly verdict: Verdict;
}

export interface MatchedPolicyRule {
  readonly namespace: string;
  readonly policy: string;
  /** Index in the policy's ingress or egress list (0-based, as in the YAML). */
  readonly rule: number;
  readonly peer: PeerOrigin;
  readonly port: PortOrigin;
  readonly chain: string;
  readonly index: number;
}

export interface SelectingPolicy {
  readonly namespace: string;
  readonly policy: string;
  readonly chain: string;
  readonly targetSet: string;
}

export type DirectionOutcome =
  /** No policy selects the pod for this direction: kube-router's default allow (KUBE-NWPLCY-DEFAULT). */
  | 'not-isolated'
  /** A rule of a selecting policy admits the packet. */
  | 'admitted'
  /** Selected, and no rule of the selecting policies admits it: rejected by the pod chain. */
  | 'default-deny'
  /** Traffic from the node itself to its pod: always allowed (kube-router's node-local rule). */
  | 'node-local'
  /** The node rejects it before any pod chain: an address of its pod CIDR that is not a programmed pod. */
  | 'fail-closed'
  /** The packet never got here (dropped earlier on the path). */
  | 'not-reached'
  /** The node's agent runs no firewall (--run-firewall=false): nothing filters there. */
  | 'no-firewall';

export interface DirectionReport {
  readonly direction: Direction;
  readonly pod: string;
  readonly node: string;
  readonly hook: Hook;
  readonly outcome: DirectionOutcome;
  readonly allowed: boolean;
  readonly podChain?: string;
  readonly dispatchChain?: string;
  readonly policies: readonly SelectingPolicy[];
  /** Every policy rule that admits it, the first being the one that decided. */
  readonly admittedBy: readonly MatchedPolicyRule[];
  /** Chains and sets on this direction's path through the node's table. */
  readonly chains: readonly string[];
  readonly sets: readonly string[];
}

export interface Explanation {
  readonly from: { readonly text: string; readonly label: string; readonly ip: string; readonly node?: string };
  readonly to: { readonly text: string; readonly label: string; readonly ip: string; readonly node?: string };
  readonly protocol: Protocol;
  readonly port: number;
  readonly family: IPFamily;
  readonly allowed: boolean;
  readonly verdict: Verdict;
  /** Why there is nothing to trace (a pod to itself never leaves it), when there is not. */
  readonly note?: string;
  readonly passes: readonly Pass[];
  readonly directions: readonly DirectionReport[];
}

/** The node's plan, compiled exactly as its agent compiles it. */
export function planFor(ctx: ExplainContext, node: string): FirewallPlan | undefined {
  if (ctx.plans?.has(node)) return ctx.plans.get(node);
  const fo = ctx.firewallOptions(node);
  const plan = fo ? compileFirewall(ctx.snapshot, deriveCompileOptions(fo, ctx.snapshot.nodes.get(node)).options) : undefined;
  ctx.plans?.set(node, plan);
  return plan;
}

function localAddrsOf(ctx: ExplainContext, node: string): string[] {
  const fo = ctx.firewallOptions(node);
  const n = ctx.snapshot.nodes.get(node);
  return localAddresses(n, fo ? deriveCompileOptions(fo, n).options.podCIDRs : []);
}

const homeOf = (e: Resolved): string | undefined => e.node;

function plannedPasses(from: Resolved, to: Resolved): { node: string; hook: Hook; bridged: boolean }[] {
  const src = from.kind === 'address' ? undefined : homeOf(from);
  const dst = homeOf(to);
  const srcHook: Hook = from.kind === 'node' ? 'OUTPUT' : 'FORWARD';
  const dstHook: Hook = to.kind === 'node' ? 'INPUT' : 'FORWARD';
  if (src !== undefined && src === dst) {
    if (from.kind === 'node' && to.kind === 'node') return [{ node: src, hook: 'OUTPUT', bridged: false }, { node: src, hook: 'INPUT', bridged: false }];
    if (from.kind === 'node') return [{ node: src, hook: 'OUTPUT', bridged: false }];
    if (to.kind === 'node') return [{ node: src, hook: 'INPUT', bridged: false }];
    return [{ node: src, hook: 'FORWARD', bridged: true }];
  }
  const out: { node: string; hook: Hook; bridged: boolean }[] = [];
  if (src !== undefined) out.push({ node: src, hook: srcHook, bridged: false });
  if (dst !== undefined) out.push({ node: dst, hook: dstHook, bridged: false });
  return out;
}

/** A rule of the namespace's pod chain for that direction (or the top-level jump into it). */
const isPodStep = (s: TraceStep | Rule, ns: string, direction: Direction, step: string): boolean => {
  const o = 'rule' in s ? s.rule.origin : s.origin;
  return o.kind === 'namespace-pods' && o.namespace === ns && o.direction === direction && o.step === step;
};
const isPodEntry = (s: TraceStep): boolean =>
  s.rule.origin.kind === 'namespace-pods' && (s.rule.origin.step === 'jump-to-pod' || s.rule.origin.step === 'jump-from-pod');

/** The sets a rule reads. */
function setsOf(r: Rule): string[] {
  return r.matches.flatMap((m) => (m.kind === 'set' ? [m.set] : []));
}

function inSet(plan: FirewallPlan, set: string, ip: string): boolean {
  return plan.sets.get(set)?.entries.includes(ip) === true;
}

/** What one direction of a pod saw in one pass: the steps from entering its chain to leaving it. */
function directionOf(plan: FirewallPlan | undefined, pass: Pass, ns: string, pod: string, ip: string, direction: Direction): DirectionReport {
  const entry = direction === 'ingress' ? 'jump-to-pod' : 'jump-from-pod';
  const steps = pass.trace?.steps ?? [];
  // The top-level jump whose set match chose this pod (its namespace's set holds its address).
  const start = steps.findIndex((s) => isPodStep(s, ns, direction, entry));
  const base = { direction, pod: `${ns}/${pod}`, node: pass.node, hook: pass.hook };
  // The namespace's pod chain and policy dispatch chain, read from the plan whether or not the packet got there.
  const family: IPFamily = ip.includes(':') ? 6 : 4;
  const table = plan?.tables.get(family);
  let podChain: string | undefined;
  let dispatchChain: string | undefined;
  for (const j of table?.chains.get(CHAIN_FORWARD) ?? []) {
    if (isPodStep(j, ns, direction, entry) && j.target.kind === 'jump') podChain = j.target.chain;
  }
  const dispatchStep = direction === 'ingress' ? 'ingress-policies' : 'egress-policies';
  for (const r of (podChain && table?.chains.get(podChain)) || []) {
    if (isPodStep(r, ns, direction, dispatchStep) && r.target.kind === 'jump') dispatchChain = r.target.chain;
  }
  const policies: SelectingPolicy[] = [];
  for (const r of (dispatchChain && table?.chains.get(dispatchChain)) || []) {
    const o = r.origin;
    if (plan && o.kind === 'dispatch' && o.direction === direction && r.target.kind === 'jump' && inSet(plan, o.targetSet, ip)) {
      policies.push({ namespace: o.namespace, policy: o.policy, chain: r.target.chain, targetSet: o.targetSet });
    }
  }
  const common = { ...base, ...(podChain ? { podChain } : {}), ...(dispatchChain ? { dispatchChain } : {}), policies };
  if (!pass.trace || start < 0) {
    // Fail-closed on this node (before the pod chain) or the packet stopped earlier.
    const failClosed = steps.some((s) => s.rule.origin.kind === 'base' && s.rule.origin.step === 'fail-closed' && s.rule.target.kind === 'REJECT');
    const outcome: DirectionOutcome = !pass.trace ? 'no-firewall' : failClosed && pass.reached ? 'fail-closed' : 'not-reached';
    return { ...common, outcome, allowed: outcome === 'no-firewall', admittedBy: [], chains: pass.trace?.chains ?? [], sets: [] };
  }
  let end = steps.findIndex((s, i) => i > start && isPodEntry(s));
  if (end < 0) end = steps.length;
  const mine = steps.slice(start, end);
  const admittedBy: MatchedPolicyRule[] = [];
  for (const s of mine) {
    const o = s.rule.origin;
    if (o.kind === 'policy' && o.direction === direction && s.rule.target.kind === 'MARK') {
      admittedBy.push({ namespace: o.namespace, policy: o.policy, rule: o.rule, peer: o.peer, port: o.port, chain: s.chain, index: s.index });
    }
  }
  let outcome: DirectionOutcome;
  if (mine.some((s) => isPodStep(s, ns, direction, 'node-local'))) outcome = 'node-local';
  else if (mine.some((s) => isPodStep(s, ns, direction, direction === 'ingress' ? 'default-ingress' : 'default-egress'))) outcome = 'not-isolated';
  else if (admittedBy.length > 0) outcome = 'admitted';
  else outcome = 'default-deny';
  const rejected = mine.some((s) => isPodStep(s, ns, direction, 'reject'));
  const chains = [...new Set(mine.flatMap((s) => (s.rule.target.kind === 'jump' ? [s.rule.target.chain] : [])))];
  const sets = new Set<string>();
  for (const c of chains) for (const r of table?.chains.get(c) ?? []) for (const x of setsOf(r)) sets.add(x);
  for (const s of mine) for (const x of setsOf(s.rule)) sets.add(x);
  return { ...common, outcome, allowed: !rejected && outcome !== 'default-deny', admittedBy, chains, sets: [...sets].sort() };
}

export function explain(ctx: ExplainContext, q: ExplainQuery): Explanation {
  const families: IPFamily[] = [4, 6];
  const { from, to } = resolvePair(ctx.snapshot, q.from, q.to, families);
  const family: IPFamily = from.ip.includes(':') ? 6 : 4;
  const ends = {
    from: { text: q.from, label: from.label, ip: from.ip, ...(from.node !== undefined ? { node: from.node } : {}) },
    to: { text: q.to, label: to.label, ip: to.ip, ...(to.node !== undefined ? { node: to.node } : {}) },
  };
  const head = { ...ends, protocol: q.protocol, port: q.port, family };
  if (from.kind === 'pod' && to.kind === 'pod' && from.pod === to.pod) {
    return { ...head, allowed: true, verdict: 'ACCEPT', note: 'a pod to its own address never leaves it (loopback): no firewall sees it', passes: [], directions: [] };
  }
  const planned = plannedPasses(from, to);
  if (planned.length === 0) {
    throw new KrtError('KRT_EXPLAIN_NO_PATH', `neither ${from.label} nor ${to.label} is on a node of the cluster: no kube-router firewall sees this packet`);
  }
  const passes: Pass[] = [];
  let verdict: Verdict = 'ACCEPT';
  for (const p of planned) {
    const plan = planFor(ctx, p.node);
    const reached = verdict === 'ACCEPT';
    if (!plan) {
      passes.push({ ...p, reached, verdict: 'ACCEPT' });
      continue;
    }
    const trace = tracePacket(plan, {
      hook: p.hook,
      src: from.ip,
      dst: to.ip,
      proto: q.protocol,
      dport: q.port,
      bridged: p.bridged,
      localAddrs: localAddrsOf(ctx, p.node),
    });
    passes.push({ ...p, reached, trace, verdict: trace.verdict });
    if (reached && trace.verdict !== 'ACCEPT') verdict = trace.verdict;
  }
  const directions: DirectionReport[] = [];
  const pick = (node: string | undefined): Pass | undefined => passes.find((p) => p.node === node);
  if (from.kind === 'pod') {
    const pass = pick(from.node);
    if (pass) directions.push(directionOf(planFor(ctx, pass.node), pass, from.pod.namespace, from.pod.name, from.ip, 'egress'));
  }
  if (to.kind === 'pod') {
    const pass = [...passes].reverse().find((p) => p.node === to.node);
    if (pass) directions.push(directionOf(planFor(ctx, pass.node), pass, to.pod.namespace, to.pod.name, to.ip, 'ingress'));
  }
  return { ...head, allowed: verdict === 'ACCEPT', verdict, passes, directions };
}

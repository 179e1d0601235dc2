// How an Explanation reads: text for people, JSON for machines. The rules are shown as iptables-save
// prints them (apply/render.ts), so what explain names can be found with grep in the node's
// `iptables-save`.
import { renderRule } from '../controllers/firewall/apply/render.js';
import type { PeerOrigin, PortOrigin } from '../controllers/firewall/compile/plan.js';
import type { DirectionReport, Explanation, MatchedPolicyRule, Pass } from './explain.js';
import type { KernelComparison } from './kernel.js';

export function describePeer(p: PeerOrigin, list: 'from' | 'to'): string {
  if (p.kind === 'any') return `any peer (the rule has no ${list} list)`;
  if (p.kind === 'ipBlock') return `${list}[${p.peer}] ipBlock ${p.cidr} (set ${p.set})`;
  return `${list}[${p.peers.join(',')}] pod/namespace selector${p.peers.length > 1 ? 's' : ''} (set ${p.set})`;
}

export function describePort(p: PortOrigin): string {
  if (p.kind === 'any') return 'any port (the rule has no ports list)';
  const port = p.port === undefined ? 'all ports' : p.endPort !== undefined ? `${p.port}-${p.endPort}` : String(p.port);
  return `ports[${p.index}] ${p.protocol}/${port}`;
}

export function describeRule(m: MatchedPolicyRule, direction: 'ingress' | 'egress'): string {
  return `policy ${m.namespace}/${m.policy} ${direction} rule ${m.rule}: peer ${describePeer(m.peer, direction === 'ingress' ? 'from' : 'to')}, port ${describePort(m.port)} (chain ${m.chain} rule ${m.index + 1})`;
}

const VERDICT = { ACCEPT: 'ALLOWED', DROP: 'DENIED (dropped)', REJECT: 'DENIED (rejected)' } as const;

function directionLines(d: DirectionReport): string[] {
  const head = `${d.direction} of pod ${d.pod} on ${d.node} (${d.hook}): ${d.allowed ? 'allowed' : d.outcome === 'not-reached' ? 'not reached' : 'DENIED'}`;
  const out = [head];
  const names = d.policies.map((p) => `${p.namespace}/${p.policy}`);
  if (d.policies.length > 0) {
    out.push(`  selected by ${d.direction} policies: ${names.join(', ')}`);
    for (const p of d.policies) out.push(`    ${p.namespace}/${p.policy}: chain ${p.chain}, target set ${p.targetSet}`);
  } else out.push(`  selected by no ${d.direction} policy`);
  switch (d.outcome) {
    case 'admitted':
      out.push(`  admitted by ${describeRule(d.admittedBy[0]!, d.direction)}`);
      for (const m of d.admittedBy.slice(1)) out.push(`  also admitted by ${describeRule(m, d.direction)}`);
      break;
    case 'default-deny':
      out.push(`  no rule of ${names.join(', ')} admits it: default deny (the pod chain ${d.podChain ?? '?'} rejects what no policy marked)`);
      break;
    case 'not-isolated':
      out.push(`  not isolated for ${d.direction}: default allow (KUBE-NWPLCY-DEFAULT)`);
      break;
    case 'node-local':
      out.push(`  the source is an address of ${d.node} itself: always allowed (node-local rule of ${d.podChain ?? '?'})`);
      break;
    case 'fail-closed':
      out.push(`  rejected by ${d.node}'s fail-closed check (KUBE-NWPLCY-TAIL) before any pod chain`);
      break;
    case 'not-reached':
      out.push('  the packet is denied before it gets here');
      break;
    case 'no-firewall':
      out.push(`  ${d.node} runs no firewall: nothing filters there`);
      break;
  }
  if (d.podChain) out.push(`  kernel: pod chain ${d.podChain}${d.dispatchChain ? `, ${d.direction} dispatch chain ${d.dispatchChain}` : ''}`);
  if (d.chains.length > 0) out.push(`  chains on the path: ${d.chains.join(' -> ')}`);
  if (d.sets.length > 0) out.push(`  sets: ${d.sets.join(', ')}`);
  return out;
}

function passLines(p: Pass): string[] {
  const where = `${p.node} ${p.hook}${p.bridged ? ' (bridged)' : ''}`;
  if (!p.trace) return [`  ${where}: no firewall on this node`];
  const last = p.trace.steps.at(-1);
  const decided = last && p.trace.verdict !== 'ACCEPT' ? ` by ${last.chain} rule ${last.index + 1}: ${last.rule.comment}` : '';
  return [`  ${where}: ${p.trace.verdict}${decided}${p.reached ? '' : ' (not reached)'}`, `    chains: ${[p.hook, ...p.trace.chains].join(' -> ')}`];
}

export function formatExplanation(e: Explanation, kernel?: readonly KernelComparison[]): string {
  const out = [
    `${e.from.text} -> ${e.to.text} ${e.protocol}/${e.port}: ${VERDICT[e.verdict]}`,
    `  from ${e.from.label} ${e.from.ip}${e.from.node ? ` on ${e.from.node}` : ''}`,
    `  to   ${e.to.label} ${e.to.ip}${e.to.node ? ` on ${e.to.node}` : ''}`,
  ];
  if (e.note) out.push(`  ${e.note}`);
  for (const d of e.directions) out.push('', ...directionLines(d));
  if (e.passes.length > 0) out.push('', 'path (netfilter filter table of each node, traced over the plan its agent programs):', ...e.passes.flatMap(passLines));
  if (kernel) {
    out.push('', 'kernel (live rules and sets of the traced path, compared with the plan):');
    for (const k of kernel) {
      if (k.error) {
        out.push(`  ${k.node}: not compared: ${k.error}`);
        continue;
      }
      const diff = k.items.filter((i) => !i.same);
      out.push(`  ${k.node}: ${diff.length === 0 ? `identical (${k.items.length} chains, jumps and sets)` : `${diff.length} of ${k.items.length} differ`}`);
      for (const i of diff) out.push(`    ${i.kind} ${i.name}: ${i.detail}`);
    }
  }
  return out.join('\n');
}

/** The JSON form: the explanation with each matched rule as iptables-save text beside its origin. */
export function explanationJson(e: Explanation, kernel?: readonly KernelComparison[]): unknown {
  return {
    ...e,
    passes: e.passes.map((p) => ({
      node: p.node,
      hook: p.hook,
      bridged: p.bridged,
      reached: p.reached,
      verdict: p.verdict,
      firewall: p.trace !== undefined,
      ...(p.trace
        ? {
            chains: p.trace.chains,
            logged: p.trace.logged,
            steps: p.trace.steps.map((s) => ({ chain: s.chain, index: s.index, rule: renderRule(s.rule), origin: s.rule.origin })),
          }
        : {}),
    })),
    ...(kernel ? { kernel } : {}),
  };
}

// Typed plan rules -> iptables rule specs, exactly as `iptables-save` prints them (-s/-d/-p first, a bare
// address with its full prefix length, the comment quoted its way, then matches in the order given), so
// what the applier writes compares equal to what it reads back and a restarted agent rewrites nothing.
// Plans share unchanged rules and chain arrays by identity, so both are rendered once and remembered.
import { quoteComment } from '../../../dataplane/iptables/restore.js';
import type { Mark, Match, Rule, Target } from '../compile/plan.js';
import { memoText } from '../compile/memo-text.js';

/** iptables-save prints a bare address with its full prefix length. */
export function hostCidr(ip: string): string {
  if (ip.includes('/')) return ip;
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function mark(m: Mark): string {
  return `0x${m.value.toString(16)}/0x${m.mask.toString(16)}`;
}

const not = (negate: boolean | undefined): string => (negate ? '! ' : '');

export function renderMatch(m: Match): string {
  switch (m.kind) {
    case 'set':
      return `-m set ${not(m.negate)}--match-set ${m.set} ${m.dir}`;
    case 'dport':
      return `-m ${m.proto} --dport ${m.to !== undefined ? `${m.from}:${m.to}` : m.from}`;
    case 'multiport':
      return `-m multiport --dports ${m.from}:${m.to}`;
    case 'mark':
      return `-m mark ${not(m.negate)}--mark ${mark(m.mark)}`;
    case 'limit':
      return `-m limit --limit ${m.rate} --limit-burst ${m.burst}`;
    case 'conntrack':
      return `-m conntrack --ctstate ${m.states.join(',')}`;
    case 'addrtype':
      return `-m addrtype ${not(m.negate)}--${m.side}-type LOCAL`;
    case 'icmp':
      return m.family === 4 ? `-m icmp --icmp-type ${m.type}` : `-m icmp6 --icmpv6-type ${m.type}`;
  }
}

export function renderTarget(t: Target): string {
  switch (t.kind) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
      return t.kind;
    case 'REJECT':
      return `REJECT --reject-with ${t.with}`;
    case 'MARK':
      return `MARK --set-xmark ${mark(t.mark)}`;
    case 'NFLOG':
      return `NFLOG --nflog-group ${t.group}`;
    case 'jump':
      return t.chain;
  }
}

/** Each distinct comment quoted once (compile/memo-text.ts). */
const quoted = memoText(quoteComment);

const ruleText = new WeakMap<Rule, string>();

/** The rule spec without the `-A CHAIN` prefix. */
export function renderRule(r: Rule): string {
  let text = ruleText.get(r);
  if (text !== undefined) return text;
  const out: string[] = [];
  if (r.src !== undefined) out.push(`-s ${hostCidr(r.src)}`);
  if (r.dst !== undefined) out.push(`-d ${hostCidr(r.dst)}`);
  if (r.proto !== undefined) out.push(`-p ${r.proto}`);
  out.push(`-m comment --comment ${quoted(r.comment)}`);
  for (const m of r.matches) out.push(renderMatch(m));
  out.push(`-j ${renderTarget(r.target)}`);
  text = out.join(' ');
  ruleText.set(r, text);
  return text;
}

const chainText = new WeakMap<readonly Rule[], readonly string[]>();

/** A chain's rule specs; the same array for the same (unchanged) chain, so diffs stay O(1) for it. */
export function renderChain(rules: readonly Rule[]): readonly string[] {
  let text = chainText.get(rules);
  if (!text) chainText.set(rules, (text = rules.map(renderRule)));
  return text;
}

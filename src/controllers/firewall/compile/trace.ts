// A packet tracer over a FirewallPlan (like kube-proxy's tracePacket): walks the built-in chain, our
// top-level jumps, our chains and sets, and returns the verdict with every rule that matched on the way
// (each with its origin: policy, rule index, peer, port). It reads the typed plan the applier renders,
// so the rules it judges are the rules the kernel gets. Pure: the offline conformance check, the compiler
// tests and `explain` use it. Matches it cannot decide from a Packet (rate limits) never block.
import { cidrContains, parseCIDROrIP } from '../../../model/normalize/cidr.js';
import type { IPFamily } from '../../../model/types.js';
import type { CtState, FirewallPlan, Match, Rule, SetSpec, TablePlan } from './plan.js';

export interface Packet {
  readonly hook: 'INPUT' | 'FORWARD' | 'OUTPUT';
  readonly src: string;
  readonly dst: string;
  readonly proto: 'tcp' | 'udp' | 'sctp' | 'icmp';
  readonly dport?: number;
  readonly icmpType?: number;
  /** Switched by the bridge (same-node pod to pod). No rule of ours tells bridged from routed today. */
  readonly bridged?: boolean;
  /** Conntrack state; NEW unless given. */
  readonly ctstate?: CtState;
  /** Addresses that are local to the node (for -m addrtype). */
  readonly localAddrs?: readonly string[];
}

export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';

/** A rule that matched: its chain, its position there (0-based), and the rule (origin included). */
export interface TraceStep {
  readonly chain: string;
  readonly index: number;
  readonly rule: Rule;
}

export interface TraceResult {
  readonly verdict: Verdict;
  /** Chains entered, in order (a chain entered twice is listed twice). */
  readonly chains: string[];
  /** Every rule that matched, in order: jumps, marks, logs and the one that decided. */
  readonly steps: TraceStep[];
  readonly logged: boolean;
}

// A plan the tracer cannot walk (a missing set or chain, a loop) is a compiler bug, not bad input: plain
// Errors, which report as KRT_INTERNAL (compile/ imports nothing but the model).
function ipMatches(cidr: string, ip: string): boolean {
  const n = parseCIDROrIP(cidr);
  const a = parseCIDROrIP(ip);
  if (!n || !a) throw new Error(`trace: bad address ${cidr} / ${ip}`);
  return cidrContains(n, a);
}

function inSet(set: SetSpec | undefined, name: string, key: { ip: string; proto: string; port?: number }): boolean {
  if (!set) throw new Error(`trace: rule references missing set ${name}`);
  if (set.type === 'hash:ip') return set.entries.includes(key.ip);
  if (set.type === 'hash:ip,port') return set.entries.includes(`${key.ip},${key.proto}:${key.port}`);
  // hash:net: the most specific containing entry decides; `nomatch` entries exclude.
  const a = parseCIDROrIP(key.ip);
  if (!a) throw new Error(`trace: bad address ${key.ip}`);
  let best: { len: number; nomatch: boolean } | undefined;
  for (const e of set.entries) {
    const [net = '', flag] = e.split(' ');
    if (flag !== undefined && flag !== 'nomatch') throw new Error(`trace: unknown set entry flag ${e}`);
    const n = parseCIDROrIP(net);
    if (!n) throw new Error(`trace: bad net entry ${e}`);
    if (!cidrContains(n, a)) continue;
    if (!best || n.prefix > best.len) best = { len: n.prefix, nomatch: flag === 'nomatch' };
  }
  return best !== undefined && !best.nomatch;
}

const inRange = (port: number | undefined, from: number, to: number): boolean => port !== undefined && port >= from && port <= to;

export function tracePacket(plan: FirewallPlan, pkt: Packet): TraceResult {
  const family: IPFamily = pkt.src.includes(':') ? 6 : 4;
  const table: TablePlan | undefined = plan.tables.get(family);
  if (!table) throw new Error(`trace: plan has no IPv${family} table`);
  const local = new Set(pkt.localAddrs ?? []);
  const proto = pkt.proto === 'icmp' && family === 6 ? 'ipv6-icmp' : pkt.proto;
  let mark = 0;
  let logged = false;
  const chains: string[] = [];
  const steps: TraceStep[] = [];

  const matchOne = (m: Match): boolean => {
    switch (m.kind) {
      case 'set': {
        const set = plan.sets.get(m.set);
        const hit =
          m.dir === 'dst,dst'
            ? inSet(set, m.set, { ip: pkt.dst, proto: pkt.proto, ...(pkt.dport !== undefined ? { port: pkt.dport } : {}) })
            : inSet(set, m.set, { ip: m.dir === 'src' ? pkt.src : pkt.dst, proto: pkt.proto });
        return hit !== (m.negate ?? false);
      }
      case 'dport':
        return pkt.proto === m.proto && inRange(pkt.dport, m.from, m.to ?? m.from);
      case 'multiport':
        return inRange(pkt.dport, m.from, m.to);
      case 'mark':
        return ((mark & m.mark.mask) === m.mark.value) !== (m.negate ?? false);
      case 'limit':
        return true;
      case 'conntrack':
        return m.states.includes(pkt.ctstate ?? 'NEW');
      case 'addrtype':
        return local.has(m.side === 'src' ? pkt.src : pkt.dst) !== (m.negate ?? false);
      case 'icmp':
        return pkt.proto === 'icmp' && m.family === family && pkt.icmpType === m.type;
    }
  };

  const matches = (r: Rule): boolean =>
    (r.src === undefined || ipMatches(r.src, pkt.src)) &&
    (r.dst === undefined || ipMatches(r.dst, pkt.dst)) &&
    (r.proto === undefined || r.proto === proto) &&
    r.matches.every(matchOne);

  // Returns a terminal verdict, or undefined when the chain falls through / RETURNs.
  const runChain = (name: string, depth: number): Verdict | undefined => {
    if (depth > 16) throw new Error(`trace: chain loop at ${name}`);
    const rules = table.chains.get(name);
    if (!rules) throw new Error(`trace: jump to missing chain ${name}`);
    chains.push(name);
    for (let index = 0; index < rules.length; index++) {
      const r = rules[index]!;
      if (!matches(r)) continue;
      steps.push({ chain: name, index, rule: r });
      const t = r.target;
      switch (t.kind) {
        case 'ACCEPT':
        case 'DROP':
        case 'REJECT':
          return t.kind;
        case 'RETURN':
          return undefined;
        case 'MARK':
          mark = (mark & ~t.mark.mask) ^ t.mark.value;
          break;
        case 'NFLOG':
          logged = true;
          break;
        case 'jump': {
          const v = runChain(t.chain, depth + 1);
          if (v) return v;
          break;
        }
      }
    }
    return undefined;
  };

  for (const j of table.jumps) {
    if (j.from !== pkt.hook || !matches(j.rule)) continue;
    // Our jump is rule 1 of the built-in chain (the applier keeps it there).
    steps.push({ chain: j.from, index: 0, rule: j.rule });
    if (j.rule.target.kind !== 'jump') throw new Error(`trace: top-level rule of ${j.from} is not a jump`);
    const v = runChain(j.rule.target.chain, 1);
    if (v) return { verdict: v, chains, steps, logged };
  }
  // Nothing of ours decided: the built-in chain's policy (ACCEPT on a node that runs pods).
  return { verdict: 'ACCEPT', chains, steps, logged };
}

// A packet tracer over a FirewallPlan (like kube-proxy's tracePacket): walks the built-in chain, our
// top-level jumps, our chains and sets, and returns the verdict. Any rule token it does not understand
// throws, so the rule generator and this interpreter cannot silently drift apart.
import { cidrContains, parseCIDROrIP } from '../../model/normalize/cidr.js';
import type { FirewallPlan, SetSpec } from '../../controllers/firewall/compile/plan.js';

export interface Packet {
  readonly hook: 'INPUT' | 'FORWARD' | 'OUTPUT';
  readonly src: string;
  readonly dst: string;
  readonly proto: 'tcp' | 'udp' | 'sctp' | 'icmp';
  readonly dport?: number;
  readonly icmpType?: number;
  /** Switched by the bridge (same-node pod to pod), so physdev --physdev-is-bridged matches. */
  readonly bridged?: boolean;
  readonly ctstate?: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID';
  /** Addresses that are local to the node (for -m addrtype). */
  readonly localAddrs?: readonly string[];
}

export type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';

export interface TraceResult {
  readonly verdict: Verdict;
  readonly chains: string[];
  readonly logged: boolean;
}

function tokenize(spec: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(spec))) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

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
  let best: { len: number; nomatch: boolean } | undefined;
  for (const e of set.entries) {
    const [net = '', flag] = e.split(' ');
    if (flag !== undefined && flag !== 'nomatch') throw new Error(`trace: unknown set entry flag ${e}`);
    const n = parseCIDROrIP(net);
    const a = parseCIDROrIP(key.ip);
    if (!n || !a) throw new Error(`trace: bad net entry ${e}`);
    if (!cidrContains(n, a)) continue;
    if (!best || n.prefix > best.len) best = { len: n.prefix, nomatch: flag === 'nomatch' };
  }
  return best !== undefined && !best.nomatch;
}

export function tracePacket(plan: FirewallPlan, pkt: Packet): TraceResult {
  const family = pkt.src.includes(':') ? 6 : 4;
  const table = plan.tables.get(family);
  if (!table) throw new Error(`trace: plan has no IPv${family} table`);
  const local = new Set(pkt.localAddrs ?? []);
  let mark = 0;
  let logged = false;
  const visited: string[] = [];

  const matchRule = (tokens: string[]): { target: string[] } | null => {
    let i = 0;
    let ok = true;
    const next = (): string => {
      const t = tokens[i++];
      if (t === undefined) throw new Error(`trace: truncated rule ${tokens.join(' ')}`);
      return t;
    };
    while (i < tokens.length) {
      const t = next();
      if (t === '-j') return ok ? { target: tokens.slice(i) } : null;
      if (t === '-s') ok &&= ipMatches(next(), pkt.src);
      else if (t === '-d') ok &&= ipMatches(next(), pkt.dst);
      else if (t === '-p') ok &&= next() === (pkt.proto === 'icmp' && family === 6 ? 'ipv6-icmp' : pkt.proto);
      else if (t === '-m') {
        const mod = next();
        let neg = false;
        const arg = (): string => {
          let a = next();
          if (a === '!') {
            neg = true;
            a = next();
          }
          return a;
        };
        switch (mod) {
          case 'comment':
            if (next() !== '--comment') throw new Error('trace: bad comment');
            next();
            break;
          case 'set': {
            const opt = arg();
            if (opt !== '--match-set') throw new Error(`trace: set option ${opt}`);
            const name = next();
            const dirs = next();
            const set = plan.sets.get(name);
            let hit: boolean;
            if (dirs === 'src' || dirs === 'dst') {
              hit = inSet(set, name, { ip: dirs === 'src' ? pkt.src : pkt.dst, proto: pkt.proto });
            } else if (dirs === 'dst,dst') {
              hit = inSet(set, name, { ip: pkt.dst, proto: pkt.proto, port: pkt.dport });
            } else throw new Error(`trace: set dirs ${dirs}`);
            ok &&= hit !== neg;
            break;
          }
          case 'tcp':
          case 'udp':
          case 'sctp': {
            if (next() !== '--dport') throw new Error('trace: only --dport is understood');
            const [lo, hi] = next().split(':').map(Number);
            ok &&= pkt.proto === mod && pkt.dport !== undefined && pkt.dport >= lo! && pkt.dport <= (hi ?? lo)!;
            break;
          }
          case 'multiport': {
            if (next() !== '--dports') throw new Error('trace: multiport');
            const [lo, hi] = next().split(':').map(Number);
            ok &&= pkt.dport !== undefined && pkt.dport >= lo! && pkt.dport <= (hi ?? lo)!;
            break;
          }
          case 'mark': {
            if (arg() !== '--mark') throw new Error('trace: mark');
            const [v, m] = next().split('/').map((x) => parseInt(x, 16));
            ok &&= ((mark & m!) === v) !== neg;
            break;
          }
          case 'limit':
            if (next() !== '--limit') throw new Error('trace: limit');
            next();
            if (next() !== '--limit-burst') throw new Error('trace: limit-burst');
            next();
            break;
          case 'conntrack': {
            if (next() !== '--ctstate') throw new Error('trace: conntrack');
            const states = next().split(',');
            ok &&= states.includes(pkt.ctstate ?? 'NEW');
            break;
          }
          case 'addrtype': {
            const opt = arg();
            if (next() !== 'LOCAL') throw new Error('trace: addrtype other than LOCAL');
            if (opt === '--src-type') ok &&= local.has(pkt.src) !== neg;
            else if (opt === '--dst-type') ok &&= local.has(pkt.dst) !== neg;
            else throw new Error(`trace: addrtype ${opt}`);
            break;
          }
          case 'physdev':
            if (next() !== '--physdev-is-bridged') throw new Error('trace: physdev');
            ok &&= pkt.bridged === true;
            break;
          case 'icmp':
          case 'icmp6': {
            next();
            const type = Number(next());
            ok &&= pkt.proto === 'icmp' && pkt.icmpType === type;
            break;
          }
          default:
            throw new Error(`trace: unknown match module ${mod}`);
        }
      } else throw new Error(`trace: unknown rule token ${t} in ${tokens.join(' ')}`);
    }
    throw new Error(`trace: rule without target: ${tokens.join(' ')}`);
  };

  // Returns a terminal verdict, or undefined when the chain falls through / RETURNs.
  const runChain = (name: string, depth: number): Verdict | undefined => {
    if (depth > 16) throw new Error(`trace: chain loop at ${name}`);
    const rules = table.chains.get(name);
    if (!rules) throw new Error(`trace: jump to missing chain ${name}`);
    visited.push(name);
    for (const r of rules) {
      const m = matchRule(tokenize(r));
      if (!m) continue;
      const [target = '', ...targs] = m.target;
      switch (target) {
        case 'ACCEPT':
        case 'DROP':
          return target;
        case 'REJECT':
          return 'REJECT';
        case 'RETURN':
          return undefined;
        case 'MARK': {
          if (targs[0] !== '--set-xmark') throw new Error('trace: MARK');
          const [v, mk] = targs[1]!.split('/').map((x) => parseInt(x, 16));
          mark = (mark & ~mk!) ^ v!;
          break;
        }
        case 'NFLOG':
          if (targs[0] !== '--nflog-group' || targs[1] !== '100') throw new Error('trace: NFLOG');
          logged = true;
          break;
        default: {
          if (targs.length > 0) throw new Error(`trace: unknown target ${m.target.join(' ')}`);
          const v = runChain(target, depth + 1);
          if (v) return v;
        }
      }
    }
    return undefined;
  };

  const builtin = table.jumps.filter((j) => j.from === pkt.hook);
  for (const j of builtin) {
    const m = matchRule(tokenize(j.rule));
    if (!m) continue;
    const v = runChain(m.target[0]!, 1);
    if (v) return { verdict: v, chains: visited, logged };
  }
  return { verdict: 'ACCEPT', chains: visited, logged };
}

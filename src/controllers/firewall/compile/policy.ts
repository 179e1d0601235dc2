// One NetworkPolicy -> its chains (per family and direction), the pod selections its sets are filled
// from, and its static ipBlock sets. Depends on the policy object alone (plus enabled families), so the
// result is memoized by object identity: pod and namespace events never re-render policy chains.
import type {
  IPFamily,
  LabelSelector,
  NetworkPolicyModel,
  PolicyPeer,
  PolicyPort,
  PolicyRule,
} from '../../../model/types.js';
import type { Match, PeerOrigin, PortOrigin, PortProtocol, Rule, SetSpec } from './plan.js';
import { cidrContains, parseCIDR, sameCIDR, type ParsedCIDR } from '../../../model/normalize/cidr.js';
import { ipsetNet, splitZero } from './ipset-net.js';
import { MARK_POLICY, namedPortSetName, policyChainName, policySetName, type Direction } from './names.js';
import { matchSet, RETURN, rule, SET_POLICY_MARK } from './rules.js';

/** One OR-term of a selection: pods matching podSelector in `namespace`, or in namespaces matching nsSelector. */
export interface SelectionTerm {
  readonly namespace?: string;
  readonly nsSelector?: LabelSelector;
  readonly podSelector: LabelSelector;
}

/** A pod set the policy's rules refer to; the compiler keeps its membership up to date. */
export interface SelectionDef {
  readonly side: 'SRC' | 'DST';
  /** Stable identity of the set (hashed into its name). */
  readonly key: string;
  readonly terms: readonly SelectionTerm[];
  /** Target sets hold only this node's pods: other nodes enforce their own. */
  readonly localOnly: boolean;
  /** This is the policy's target selection (drives isolation). */
  readonly target: boolean;
}

export interface CompiledPolicy {
  readonly policy: NetworkPolicyModel;
  /** Key of the target selection (its set is matched by the namespace dispatch chains). */
  readonly targetKey: string;
  readonly ingress: boolean;
  readonly egress: boolean;
  readonly selections: readonly SelectionDef[];
  readonly blockSets: readonly SetSpec[];
  /** "PROTO/name" of every named port the rules use. */
  readonly namedPorts: readonly string[];
  readonly chains: ReadonlyMap<IPFamily, ReadonlyMap<string, readonly Rule[]>>;
  readonly warnings: readonly string[];
}

const EVERYTHING: LabelSelector = { matchLabels: {}, matchExpressions: [] };

function canonSelector(sel: LabelSelector): string {
  const labels = Object.keys(sel.matchLabels)
    .sort()
    .map((k) => `${k}=${sel.matchLabels[k]}`);
  const exprs = sel.matchExpressions.map((e) => `${e.key} ${e.operator} ${[...e.values].sort().join(',')}`).sort();
  return JSON.stringify([labels, exprs]);
}

/**
 * Sets are keyed by what they select, not by which policy uses them: policies with the same peers
 * (a common "from: monitoring namespace", every default-deny) share one set, which keeps the entry
 * count proportional to distinct selections rather than to policies.
 */
export function selectionKey(side: 'SRC' | 'DST', terms: readonly SelectionTerm[], localOnly: boolean): string {
  const t = terms
    .map((x) => `${x.namespace !== undefined ? `ns=${x.namespace}` : `nssel=${canonSelector(x.nsSelector ?? EVERYTHING)}`};pod=${canonSelector(x.podSelector)}`)
    .sort();
  return `sel/${side}/${localOnly ? 'local' : 'all'}/${[...new Set(t)].join('|')}`;
}

interface PortPart {
  readonly proto?: PortProtocol;
  readonly matches: readonly Match[];
  readonly origin: PortOrigin;
}

const ANY: { readonly kind: 'any' } = { kind: 'any' };
const POLICY_MARKED: Match = { kind: 'mark', mark: MARK_POLICY, negate: false };

function portMatches(ports: readonly PolicyPort[], family: IPFamily, namedPorts: Set<string>, warn: (m: string) => void): PortPart[] {
  if (ports.length === 0) return [{ matches: [], origin: ANY }];
  const out: PortPart[] = [];
  ports.forEach((p, index) => {
    const proto = p.protocol.toLowerCase() as PortProtocol;
    const origin: PortOrigin = {
      kind: 'port',
      index,
      protocol: p.protocol,
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
    };
    if (p.port === undefined) {
      out.push({ proto, matches: [], origin });
    } else if (typeof p.port === 'string') {
      namedPorts.add(`${p.protocol}/${p.port}`);
      // hash:ip,port with dst,dst checks address, protocol and port against the pods that name it.
      out.push({ matches: [matchSet(namedPortSetName(family, p.protocol, p.port), 'dst,dst')], origin });
    } else {
      const from = p.port;
      const to = p.endPort;
      if (!Number.isInteger(from) || from < 1 || from > 65535 || (to !== undefined && (to < from || to > 65535))) {
        warn(`port ${from}${to !== undefined ? `-${to}` : ''} is not a valid port or range; rule port skipped`);
        return;
      }
      const dport: Match = to !== undefined && to !== from ? { kind: 'dport', proto, from, to } : { kind: 'dport', proto, from };
      out.push({ proto, matches: [dport], origin });
    }
  });
  return out;
}

/**
 * blockEntries' results by ipBlock (CIDR and exceptions) with the warnings it gave: clusters repeat the same
 * blocks (0.0.0.0/0 except the metadata address, the cluster's own ranges) across hundreds of policies.
 */
const blockMemo = new Map<string, { entries: readonly string[] | undefined; warnings: readonly string[] }>();

function blockEntriesOnce(peer: Extract<PolicyPeer, { kind: 'ipBlock' }>, warn: (m: string) => void): readonly string[] | undefined {
  const key = `${peer.cidr} ${peer.except.join(' ')}`;
  let hit = blockMemo.get(key);
  if (!hit) {
    const warnings: string[] = [];
    hit = { entries: blockEntries(peer, (m) => warnings.push(m)), warnings };
    if (blockMemo.size >= 10_000) blockMemo.clear();
    blockMemo.set(key, hit);
  }
  for (const w of hit.warnings) warn(w);
  return hit.entries;
}

/** hash:net entries for one ipBlock: the block (split if /0) and its exceptions as nomatch. */
function blockEntries(peer: Extract<PolicyPeer, { kind: 'ipBlock' }>, warn: (m: string) => void): string[] | undefined {
  const net = parseCIDR(peer.cidr);
  if (!net) {
    warn(`ipBlock ${peer.cidr} is not a valid CIDR; peer skipped`);
    return undefined;
  }
  let positives: ParsedCIDR[] = splitZero(net);
  const negatives: ParsedCIDR[] = [];
  for (const ex of peer.except) {
    const e = parseCIDR(ex);
    if (!e || !cidrContains(net, e)) {
      warn(`ipBlock ${peer.cidr}: except ${ex} is not inside the block; ignored`);
      continue;
    }
    // An exception that covers a whole positive entry removes it (nomatch of the same net is not allowed).
    const covered = positives.filter((p) => cidrContains(e, p));
    if (covered.length > 0) {
      positives = positives.filter((p) => !covered.includes(p));
      continue;
    }
    if (!negatives.some((n) => sameCIDR(n, e))) negatives.push(e);
  }
  if (positives.length === 0) return [];
  return [...positives.map(ipsetNet), ...negatives.filter((n) => positives.some((p) => cidrContains(p, n))).map((n) => `${ipsetNet(n)} nomatch`)];
}

interface RuleCtx {
  readonly np: NetworkPolicyModel;
  readonly dir: Direction;
  readonly family: IPFamily;
  readonly targetSet: string;
  readonly chain: string;
}

function compileRule(
  ctx: RuleCtx,
  r: PolicyRule,
  idx: number,
  selections: SelectionDef[],
  blockSets: SetSpec[],
  namedPorts: Set<string>,
  warn: (m: string) => void,
  out: Rule[],
): void {
  const { np, dir, family } = ctx;
  const peerDir = dir === 'ingress' ? 'src' : 'dst';
  const targetDir = dir === 'ingress' ? 'dst' : 'src';
  const peerSide = dir === 'ingress' ? 'SRC' : 'DST';
  const who = `policy name: ${np.name} namespace ${np.namespace}`;
  const peers: Array<{ match?: Match; comment: string; origin: PeerOrigin }> = [];
  if (r.peers.length === 0) {
    peers.push({
      comment: dir === 'ingress' ? `rule to ACCEPT traffic from all sources to dest pods selected by ${who}` : `rule to ACCEPT traffic from source pods to all destinations selected by ${who}`,
      origin: ANY,
    });
  } else {
    const podTerms: SelectionTerm[] = [];
    const podPeers: number[] = [];
    r.peers.forEach((peer, peerIdx) => {
      if (peer.kind === 'pods') {
        if (peer.namespaceSelector) {
          podTerms.push({ nsSelector: peer.namespaceSelector, podSelector: peer.podSelector ?? EVERYTHING });
        } else {
          podTerms.push({ namespace: np.namespace, podSelector: peer.podSelector ?? EVERYTHING });
        }
        podPeers.push(peerIdx);
        return;
      }
      if (peer.family !== family) return;
      const entries = blockEntriesOnce(peer, warn);
      if (!entries) return;
      const name = policySetName(family, peerSide, `block/${[...entries].sort().join(',')}`);
      if (!blockSets.some((b) => b.name === name)) blockSets.push({ name, type: 'hash:net', family: family === 4 ? 'inet' : 'inet6', entries });
      peers.push({
        match: matchSet(name, peerDir),
        comment:
          dir === 'ingress'
            ? `rule to ACCEPT traffic from specified ipBlocks to dest pods selected by ${who}`
            : `rule to ACCEPT traffic from source pods to specified ipBlocks selected by ${who}`,
        origin: { kind: 'ipBlock', peer: peerIdx, cidr: peer.cidr, set: name },
      });
    });
    if (podTerms.length > 0) {
      const key = selectionKey(peerSide, podTerms, false);
      // The selection is shared by both families' tables; register it once.
      if (!selections.some((s) => s.key === key)) {
        selections.push({ side: peerSide, key, terms: podTerms, localOnly: false, target: false });
      }
      const set = policySetName(family, peerSide, key);
      peers.unshift({
        match: matchSet(set, peerDir),
        comment: `rule to ACCEPT traffic from source pods to dest pods selected by ${who}`,
        origin: { kind: 'pods', peers: podPeers, set },
      });
    }
    // Peers exist but none applies to this family: the rule allows nothing here (never "any peer").
    if (peers.length === 0) return;
  }
  const ports = portMatches(r.ports, family, namedPorts, warn);
  const target = matchSet(ctx.targetSet, targetDir);
  for (const peer of peers) {
    const peerMatch = peer.match ? [peer.match] : [];
    for (const port of ports) {
      const matches = dir === 'ingress' ? [...peerMatch, target, ...port.matches] : [target, ...peerMatch, ...port.matches];
      const origin = { kind: 'policy', namespace: np.namespace, policy: np.name, direction: dir, rule: idx, peer: peer.origin, port: port.origin } as const;
      const { comment } = peer;
      const { proto } = port;
      // Mark, then return if marked: the pod chain accepts what any policy of the namespace marked.
      out.push(rule({ proto, comment, matches, target: SET_POLICY_MARK, origin }));
      out.push(rule({ proto, comment, matches: [...matches, POLICY_MARKED], target: RETURN, origin }));
    }
  }
}

export function compilePolicy(np: NetworkPolicyModel, families: readonly IPFamily[], enabledFamilies: readonly IPFamily[]): CompiledPolicy {
  const warnings: string[] = [];
  const seen = new Set<string>();
  const warn = (m: string): void => {
    if (!seen.has(m)) {
      seen.add(m);
      warnings.push(`${np.namespace}/${np.name}: ${m}`);
    }
  };
  const ingress = np.policyTypes.includes('Ingress');
  const egress = np.policyTypes.includes('Egress');
  const targetTerms: SelectionTerm[] = [{ namespace: np.namespace, podSelector: np.podSelector }];
  const targetKey = selectionKey('DST', targetTerms, true);
  const selections: SelectionDef[] = [{ side: 'DST', key: targetKey, terms: targetTerms, localOnly: true, target: true }];
  const blockSets: SetSpec[] = [];
  const namedPorts = new Set<string>();
  const chains = new Map<IPFamily, Map<string, Rule[]>>();
  for (const r of [...(ingress ? np.ingress : []), ...(egress ? np.egress : [])]) {
    for (const peer of r.peers) {
      if (peer.kind === 'ipBlock' && !enabledFamilies.includes(peer.family)) {
        warn(`ipBlock ${peer.cidr} is IPv${peer.family}, which is not enabled; peer skipped`);
      }
    }
  }
  for (const family of families) {
    const fam = new Map<string, Rule[]>();
    const targetSet = policySetName(family, 'DST', targetKey);
    for (const dir of ['ingress', 'egress'] as const) {
      if (dir === 'ingress' ? !ingress : !egress) continue;
      const chain = policyChainName(np.namespace, np.name, dir);
      const rules: Rule[] = [];
      const ctx: RuleCtx = { np, dir, family, targetSet, chain };
      (dir === 'ingress' ? np.ingress : np.egress).forEach((r, i) =>
        compileRule(ctx, r, i, selections, blockSets, namedPorts, warn, rules),
      );
      fam.set(chain, rules);
    }
    chains.set(family, fam);
  }
  return { policy: np, targetKey, ingress, egress, selections, blockSets, namedPorts: [...namedPorts], chains, warnings };
}

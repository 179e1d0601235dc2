// The compiled firewall: a plain value the applier diffs against what the kernel holds. Successive plans
// share unchanged chain arrays, rules and set specs by identity, so a diff of an unchanged object is O(1).
// Rules are typed values, not iptables text: the applier renders them (apply/render.ts), the tracer
// (trace.ts) walks them, and each carries where it came from (`origin`) so a verdict can be explained.
import type { IPFamily } from '../../../model/types.js';

/**
 * One ipset of the plan. Declared here, not imported from dataplane/ipset, so compile/ depends only on the
 * model; the applier hands it to dataplane/ipset, whose SetSpec has the same shape (the applier checks).
 */
export interface SetSpec {
  readonly name: string;
  readonly type: 'hash:ip' | 'hash:net' | 'hash:ip,port';
  readonly family: 'inet' | 'inet6';
  /** Entries exactly as `ipset save` prints them ("10.0.0.1", "10.0.0.0/8 nomatch", "10.0.0.1,tcp:80"). */
  readonly entries: readonly string[];
}

/**
 * How a set of this plan differs from the spec the same compiler emitted before (`base`): the applier
 * that last applied `base` sends these elements only, instead of diffing the whole set (a new pod
 * touches kube-router-local-pods and the isolated sets, thousands of entries each).
 */
export interface SetDelta {
  readonly base: SetSpec;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export type Direction = 'ingress' | 'egress';
export type PortProtocol = 'tcp' | 'udp' | 'sctp';
export type RuleProtocol = PortProtocol | 'icmp' | 'ipv6-icmp';
export type CtState = 'INVALID' | 'NEW' | 'RELATED' | 'ESTABLISHED';

/** A packet mark and the bits it covers (`--mark value/mask`, `--set-xmark value/mask`). */
export interface Mark {
  readonly value: number;
  readonly mask: number;
}

/** One match of a rule, in the order the rule lists it (which is the order iptables-save prints). */
export type Match =
  /** `-m set [!] --match-set NAME DIR`: DIR `src`/`dst` for an address, `dst,dst` for address and port. */
  | { readonly kind: 'set'; readonly set: string; readonly dir: 'src' | 'dst' | 'dst,dst'; readonly negate?: boolean }
  /** `-m PROTO --dport FROM[:TO]` (the rule's protocol is PROTO). */
  | { readonly kind: 'dport'; readonly proto: PortProtocol; readonly from: number; readonly to?: number }
  /** `-m multiport --dports FROM:TO`. */
  | { readonly kind: 'multiport'; readonly from: number; readonly to: number }
  | { readonly kind: 'mark'; readonly mark: Mark; readonly negate?: boolean }
  /** `-m limit --limit RATE --limit-burst BURST`: thins logging, never decides a verdict. */
  | { readonly kind: 'limit'; readonly rate: string; readonly burst: number }
  | { readonly kind: 'conntrack'; readonly states: readonly CtState[] }
  /** `-m addrtype [!] --src-type|--dst-type LOCAL`: an address of this node. */
  | { readonly kind: 'addrtype'; readonly side: 'src' | 'dst'; readonly negate?: boolean }
  /** `-m icmp --icmp-type N` (IPv4) or `-m icmp6 --icmpv6-type N` (IPv6). */
  | { readonly kind: 'icmp'; readonly family: IPFamily; readonly type: number };

export type Target =
  | { readonly kind: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { readonly kind: 'REJECT'; readonly with: 'icmp-port-unreachable' | 'icmp6-port-unreachable' }
  /** `MARK --set-xmark value/mask`: clears the mask bits, then xors the value in. */
  | { readonly kind: 'MARK'; readonly mark: Mark }
  | { readonly kind: 'NFLOG'; readonly group: number }
  /** A jump to another chain of ours. */
  | { readonly kind: 'jump'; readonly chain: string };

/** Which peer of a policy rule a rule stands for (indices into the rule's `from`/`to` list). */
export type PeerOrigin =
  /** The rule lists no peers: every source (ingress) or destination (egress). */
  | { readonly kind: 'any' }
  /** The rule's pod/namespace-selector peers, merged into one set. */
  | { readonly kind: 'pods'; readonly peers: readonly number[]; readonly set: string }
  | { readonly kind: 'ipBlock'; readonly peer: number; readonly cidr: string; readonly set: string };

/** Which port of a policy rule a rule stands for (index into the rule's `ports`). */
export type PortOrigin =
  | { readonly kind: 'any' }
  | { readonly kind: 'port'; readonly index: number; readonly protocol: string; readonly port?: number | string; readonly endPort?: number };

/** Why a rule exists. Never rendered (the comment is the kernel's copy of it); `explain` reports it. */
export type RuleOrigin =
  /** One peer x port of rule `rule` (index in the policy's ingress or egress list) of a NetworkPolicy. */
  | {
      readonly kind: 'policy';
      readonly namespace: string;
      readonly policy: string;
      readonly direction: Direction;
      readonly rule: number;
      readonly peer: PeerOrigin;
      readonly port: PortOrigin;
    }
  /** The namespace dispatch jump into a policy's chain, guarded by the policy's target set. */
  | { readonly kind: 'dispatch'; readonly namespace: string; readonly policy: string; readonly direction: Direction; readonly targetSet: string }
  /**
   * A rule of a namespace's pod chain (one per namespace and direction, shared by its local pods), or
   * the top-level jump into it (steps `jump-to-pod` / `jump-from-pod`, guarded by the namespace's set).
   */
  | { readonly kind: 'namespace-pods'; readonly namespace: string; readonly direction: Direction; readonly step: PodStep }
  /** Rules that are the same for every cluster (COMMON, DEFAULT, TAIL, service and top-level rules). */
  | { readonly kind: 'base'; readonly step: BaseStep };

export type PodStep =
  | 'common'
  | 'node-local'
  | 'default-ingress'
  | 'ingress-policies'
  | 'default-egress'
  | 'egress-policies'
  | 'log-rejected'
  | 'reject'
  | 'clear-mark'
  | 'accepted-mark'
  | 'jump-to-pod'
  | 'jump-from-pod';

export type BaseStep =
  | 'common'
  | 'default-allow'
  | 'fail-closed'
  | 'service'
  | 'accept-marked'
  | 'top-level-jump';

/** One iptables rule of one chain; apply/render.ts prints it exactly as `iptables-save` would. */
export interface Rule {
  readonly src?: string;
  readonly dst?: string;
  readonly proto?: RuleProtocol;
  /** kube-router's wording, so an operator who knows its rules recognises ours. */
  readonly comment: string;
  readonly matches: readonly Match[];
  readonly target: Target;
  readonly origin: RuleOrigin;
}

/** One table of one IP family (iptables: filter; native nftables: that family's part of our table). */
export interface TablePlan {
  readonly family: IPFamily;
  /** Our chains: name -> rules, in order. */
  readonly chains: ReadonlyMap<string, readonly Rule[]>;
  /** Jumps that must be the first rule of a built-in chain: INPUT -> KUBE-ROUTER-INPUT etc. */
  readonly jumps: readonly TopLevelJump[];
}

export interface TopLevelJump {
  readonly from: 'INPUT' | 'FORWARD' | 'OUTPUT';
  readonly rule: Rule;
}

export interface FirewallPlan {
  readonly tables: ReadonlyMap<IPFamily, TablePlan>;
  readonly sets: ReadonlyMap<string, SetSpec>;
  /**
   * Sets whose members get LESS access: the "isolated" sets (matched with `!`) and the namespaces'
   * pod sets (a member's traffic is sent through its namespace's pod chains; without it, a member of
   * kube-router-local-pods would pass unfiltered). Every other set is monotone: a member more can only
   * allow more. The applier narrows first (removals from allow sets,
   * additions to deny sets) before the iptables restore and widens after it, so at no moment is anything
   * allowed that neither the old nor the new policy allows, and a failed restore leaves nothing wider.
   */
  readonly denySets: ReadonlySet<string>;
  /** Sets of this plan whose change against the compiler's previous plan is known element by element. */
  readonly setDeltas: ReadonlyMap<string, SetDelta>;
  readonly warnings: readonly string[];
}

export interface CompileStats {
  readonly policiesCompiled: number;
  readonly podsCompiled: number;
  readonly setsRecomputed: number;
  readonly full: boolean;
}

// The compiled firewall: a plain value the applier diffs against what the kernel holds. Successive plans
// share unchanged chain arrays and set specs by identity, so a diff of an unchanged object is O(1).
import type { IPFamily } from '../../../model/types.js';

/**
 * One ipset of the plan. Declared here, not imported from dataplane/ipset, so compile/ depends only on the
 * model; the applier hands it to dataplane/ipset, whose SetSpec has the same shape (the compiler checks).
 */
export interface SetSpec {
  readonly name: string;
  readonly type: 'hash:ip' | 'hash:net' | 'hash:ip,port';
  readonly family: 'inet' | 'inet6';
  /** Entries exactly as `ipset save` prints them ("10.0.0.1", "10.0.0.0/8 nomatch", "10.0.0.1,tcp:80"). */
  readonly entries: readonly string[];
}

/** One iptables table (filter) of one IP family, as iptables-restore would write it. */
export interface TablePlan {
  readonly family: IPFamily;
  /** Our chains: name -> rule specs (without the `-A CHAIN` prefix), in order. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Jumps that must be the first rule of a built-in chain: INPUT -> KUBE-ROUTER-INPUT etc. */
  readonly jumps: readonly TopLevelJump[];
}

export interface TopLevelJump {
  readonly from: 'INPUT' | 'FORWARD' | 'OUTPUT';
  /** The rule spec, e.g. `-m comment --comment "..." -j KUBE-ROUTER-INPUT`. */
  readonly rule: string;
}

export interface FirewallPlan {
  readonly tables: ReadonlyMap<IPFamily, TablePlan>;
  readonly sets: ReadonlyMap<string, SetSpec>;
  /**
   * Sets whose members get LESS access (the "isolated" sets, matched with `!`). Every other set is
   * monotone: a member more can only allow more. The applier narrows first (removals from allow sets,
   * additions to deny sets) before the iptables restore and widens after it, so at no moment is anything
   * allowed that neither the old nor the new policy allows, and a failed restore leaves nothing wider.
   */
  readonly denySets: ReadonlySet<string>;
  readonly warnings: readonly string[];
}

export interface CompileStats {
  readonly policiesCompiled: number;
  readonly podsCompiled: number;
  readonly setsRecomputed: number;
  readonly full: boolean;
}

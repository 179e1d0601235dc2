// The compiled firewall: a plain value the applier diffs against what the kernel holds. Successive plans
// share unchanged chain arrays and set specs by identity, so a diff of an unchanged object is O(1).
import type { SetSpec } from '../../../dataplane/ipset/ipset.js';
import type { IPFamily } from '../../../model/types.js';

export type { SetSpec };

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

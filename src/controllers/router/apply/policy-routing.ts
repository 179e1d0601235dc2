// The `ip rule from <podCIDR> lookup 77` rules of kube-router's policy routing (see POLICY_TABLE): present
// for each of our pod CIDRs while the overlay is enabled, gone otherwise. The routes of table 77 follow the
// tunnels and are reconciled with them (routes.ts). Rules of other tables are never touched.
import { canonicalCIDR, parseCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../../model/normalize/ip.js';
import type { IPFamily as Family } from '../../../model/types.js';
import { POLICY_TABLE } from '../compile/routes.js';
import type { Exec } from '../../../dataplane/exec.js';
import { ipBatch, showRules } from '../../../dataplane/ip/ip.js';

/** kube-router names the table in /etc/iproute2/rt_tables; we do not write that file, so both spellings are ours. */
const OUR_TABLE_NAMES = new Set([String(POLICY_TABLE), 'kube-router']);

export async function readPolicyRules(exec: Exec, family: Family): Promise<{ src: string; priority?: number }[]> {
  return (await showRules(exec, family))
    .filter((r) => r.table !== undefined && OUR_TABLE_NAMES.has(r.table) && r.src !== undefined && r.src !== 'all')
    .map((r) => ({ src: canonicalCIDR(`${r.src}/${r.srclen ?? (family === 4 ? 32 : 128)}`, GO_ADDRESSES) ?? `${r.src}`, ...(r.priority !== undefined ? { priority: r.priority } : {}) }));
}

/** Pure: the `ip rule` commands (for `ip -batch`) turning `have` into one rule per wanted source CIDR. */
export function diffPolicyRules(want: readonly string[], have: readonly { src: string }[]): string[] {
  const cmds: string[] = [];
  const wanted = new Set(want.map((c) => canonicalCIDR(c, GO_ADDRESSES) ?? c));
  const seen = new Set<string>();
  for (const r of have) {
    // Duplicates (two agents racing at startup, an older run) go too: one rule per CIDR.
    if (!wanted.has(r.src) || seen.has(r.src)) cmds.push(`rule del from ${r.src} lookup ${POLICY_TABLE}`);
    seen.add(r.src);
  }
  for (const c of wanted) if (!seen.has(c)) cmds.push(`rule add from ${c} lookup ${POLICY_TABLE}`);
  return cmds;
}

/** Ensures the rules for `podCidrs` when `enabled`, removes ours otherwise. Returns the number of changes. */
export async function syncPolicyRules(exec: Exec, families: readonly Family[], podCidrs: readonly string[], enabled: boolean): Promise<number> {
  let changes = 0;
  for (const f of families) {
    const want = enabled ? podCidrs.filter((c) => parseCIDR(c, GO_ADDRESSES)?.family === f) : [];
    const cmds = diffPolicyRules(want, await readPolicyRules(exec, f));
    if (cmds.length === 0) continue;
    await ipBatch(exec, cmds, { family: f });
    changes += cmds.length;
  }
  return changes;
}

// The router's own iptables/ipset state: FORWARD accepts for kube-bridge (chain KUBE-ROUTER-BRIDGE-FWD,
// never the firewall controller's KUBE-ROUTER-FORWARD/INPUT/OUTPUT) and pod egress masquerade (nat chain
// KUBE-ROUTER-POD-EGRESS) for traffic leaving the cluster's pod and node addresses. Sets are refilled via
// temp set + swap so a reader never sees them empty; chains via iptables-restore --noflush (only ours).
import { binaries, type BackendName } from '../../../dataplane/iptables/backend.js';
import { quoteComment } from '../../../dataplane/iptables/restore.js';
import { parseIpsetSave, setRestoreLines, type SetDiffStats } from '../../../dataplane/ipset/ipset.js';
import { ipsetRestoreExist, ipsetSave } from '../../../dataplane/ipset/resident.js';
import { parseCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES, ipFamily } from '../../../model/normalize/ip.js';
import type { IPFamily as Family } from '../../../model/types.js';
import { BRIDGE_NAME } from '../compile/cni.js';
import { execAnyCode, type Exec } from '../../../dataplane/exec.js';

export const FWD_CHAIN = 'KUBE-ROUTER-BRIDGE-FWD';
export const EGRESS_CHAIN = 'KUBE-ROUTER-POD-EGRESS';
export const POD_SUBNETS_SET = 'kube-router-pod-subnets';
export const NODE_IPS_SET = 'kube-router-node-ips';

export interface ForwardEgressInputs {
  readonly families: readonly Family[];
  /** Every node's pod CIDRs (the cluster's pod address space). */
  readonly clusterPodCidrs: readonly string[];
  /** Every node's addresses. */
  readonly clusterNodeIPs: readonly string[];
  readonly enablePodEgress: boolean;
}

const setName = (base: string, f: Family) => (f === 4 ? base : `inet6:${base}`);
const binFor = (backend: BackendName, f: Family) => binaries(backend, f);
const comment = (text: string) => `-m comment --comment ${quoteComment(text)}`;
const OUR_SETS = new Set([4, 6].flatMap((f) => [setName(POD_SUBNETS_SET, f as Family), setName(NODE_IPS_SET, f as Family)]));

/** The `ipset restore` batch turning the current sets (from `ipset save`) into the desired ones; '' = nothing to do. */
export function renderIpsetRestore(inp: ForwardEgressInputs, saved: string): string {
  const current = parseIpsetSave(saved, (n) => OUR_SETS.has(n));
  const lines: string[] = [];
  const stats: SetDiffStats = { created: 0, swapped: 0, added: 0, deleted: 0 };
  for (const f of inp.families) {
    const family = f === 4 ? 'inet' : 'inet6';
    const pods = setName(POD_SUBNETS_SET, f), nodes = setName(NODE_IPS_SET, f);
    const podEntries = [...new Set(inp.clusterPodCidrs.filter((c) => parseCIDR(c, GO_ADDRESSES)?.family === f))].sort();
    const nodeEntries = [...new Set(inp.clusterNodeIPs.filter((ip) => ipFamily(ip, GO_ADDRESSES) === f))].sort();
    setRestoreLines(lines, { name: pods, type: 'hash:net', family, entries: podEntries }, current.get(pods), `krt-rt-tmp-pods${f}`, stats);
    setRestoreLines(lines, { name: nodes, type: 'hash:ip', family, entries: nodeEntries }, current.get(nodes), `krt-rt-tmp-nodes${f}`, stats);
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/**
 * Where our FORWARD jump goes when it is missing: first, but after the firewall controller's
 * KUBE-ROUTER-FORWARD jump when that exists, so NetworkPolicy sees bridged pod traffic before our accepts.
 */
export function forwardInsertPosition(forwardRules: readonly string[]): number {
  let last = -1;
  forwardRules.forEach((r, i) => {
    if (/ -j KUBE-ROUTER-FORWARD( |$)/.test(r)) last = i;
  });
  return last + 2;
}

export function renderIptablesRestore(
  f: Family,
  inp: ForwardEgressInputs,
  jumps: { fwd: boolean; egress: boolean; fwdPosition?: number },
): string {
  const pods = setName(POD_SUBNETS_SET, f), nodes = setName(NODE_IPS_SET, f);
  const lines = ['*filter', `:${FWD_CHAIN} - [0:0]`];
  lines.push(`-A ${FWD_CHAIN} -i ${BRIDGE_NAME} ${comment('kube-router: traffic from pods on kube-bridge')} -j ACCEPT`);
  lines.push(`-A ${FWD_CHAIN} -o ${BRIDGE_NAME} ${comment('kube-router: traffic to pods on kube-bridge')} -j ACCEPT`);
  if (!jumps.fwd) lines.push(`-I FORWARD ${jumps.fwdPosition ?? 1} ${comment('kube-router: pod bridge forwarding')} -j ${FWD_CHAIN}`);
  lines.push('COMMIT', '*nat', `:${EGRESS_CHAIN} - [0:0]`);
  if (inp.enablePodEgress) {
    lines.push(
      `-A ${EGRESS_CHAIN} -m set --match-set ${pods} src -m set ! --match-set ${pods} dst -m set ! --match-set ${nodes} dst ` +
        `${comment('kube-router: SNAT pod traffic leaving the cluster')} -j MASQUERADE --random-fully`,
    );
  }
  if (!jumps.egress) lines.push(`-I POSTROUTING 1 ${comment('kube-router: pod egress')} -j ${EGRESS_CHAIN}`);
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/** The rules of a built-in chain as `-A` lines (policy line dropped); empty when the table is absent. */
async function listRules(exec: Exec, bin: string, table: string, chain: string): Promise<string[]> {
  const res = await execAnyCode(exec, bin, ['-w', '-t', table, '-S', chain]);
  return res.code === 0 ? res.stdout.split('\n').filter((l) => l.startsWith('-A ')) : [];
}

const jumpsTo = (rules: readonly string[], target: string) => rules.some((l) => new RegExp(`-j ${target}( |$)`).test(l));

export async function syncForwardEgress(exec: Exec, backend: BackendName, inp: ForwardEgressInputs): Promise<void> {
  // The reads are independent: all at once (each is a process start, seconds of wall time one after
  // another where starts are slow, as in user-mode Linux); the sets are written before the rules using them.
  const [saved, ...chains] = await Promise.all([
    ipsetSave(exec).then((stdout) => ({ stdout }), () => ({ stdout: '' })),
    ...inp.families.flatMap((f) => [listRules(exec, binFor(backend, f).cli, 'filter', 'FORWARD'), listRules(exec, binFor(backend, f).cli, 'nat', 'POSTROUTING')]),
  ]);
  const batch = renderIpsetRestore(inp, saved.stdout);
  await ipsetRestoreExist(exec, batch);
  for (const [i, f] of inp.families.entries()) {
    const forward = chains[2 * i] as string[];
    const jumps = {
      fwd: jumpsTo(forward, FWD_CHAIN),
      fwdPosition: forwardInsertPosition(forward),
      egress: jumpsTo(chains[2 * i + 1] as string[], EGRESS_CHAIN),
    };
    await exec(binFor(backend, f).restore, ['-w', '--noflush'], { input: renderIptablesRestore(f, inp, jumps) });
  }
}

/** --cleanup-config: remove our jumps, chains and sets (sets last: rules reference them). */
export async function cleanupForwardEgress(exec: Exec, backend: BackendName, families: readonly Family[]): Promise<void> {
  for (const f of families) {
    const bin = binFor(backend, f).cli;
    for (const [table, parent, chain] of [['filter', 'FORWARD', FWD_CHAIN], ['nat', 'POSTROUTING', EGRESS_CHAIN]] as const) {
      const res = await execAnyCode(exec, bin, ['-w', '-t', table, '-S', parent]);
      for (const line of res.stdout.split('\n')) {
        if (!new RegExp(`-j ${chain}( |$)`).test(line)) continue;
        const args = line.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"(.*)"$/, '$1'));
        await execAnyCode(exec, bin, ['-w', '-t', table, ...args]);
      }
      await execAnyCode(exec, bin, ['-w', '-t', table, '-F', chain]);
      await execAnyCode(exec, bin, ['-w', '-t', table, '-X', chain]);
    }
    for (const s of [POD_SUBNETS_SET, NODE_IPS_SET]) await execAnyCode(exec, 'ipset', ['destroy', setName(s, f)]);
  }
}

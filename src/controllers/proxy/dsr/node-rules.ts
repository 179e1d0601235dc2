// DSR on the node, rendered and read back: the mangle chain that marks packets to DSR addresses (and
// clamps the MSS of DSR pods' SYNs), the policy rules that deliver marked packets locally (table 78) and
// route VIPs to kube-bridge (table 79), and those tables' routes. Pure: text in, text out; dsr/applier.ts runs it.
import { quoteComment } from '../../../dataplane/iptables/restore.js';
import { DSR_RULE_PRIORITY, DSR_TABLE, EXTERNAL_IP_RULE_PRIORITY, EXTERNAL_IP_TABLE } from '../compile/dsr.js';
import type { DsrPlan } from '../compile/plan.js';

export const DSR_CHAIN = 'KUBE-ROUTER-DSR';
/** The bridge the pods hang on (the router's CNI bridge), where DSR pods' replies enter the node. */
export const POD_BRIDGE = 'kube-bridge';
/** Jumps into our chain, as iptables-save prints them (compared as strings). */
export const DSR_JUMP = `-m comment --comment ${quoteComment('kube-router-ts DSR')} -j ${DSR_CHAIN}`;
/** Packets from outside (PREROUTING) and from node processes (OUTPUT) are marked alike. */
export const DSR_JUMP_CHAINS = ['PREROUTING', 'OUTPUT'] as const;

const matchProto = (p: string) => `-p ${p} -m ${p}`;

/** Our chain's rules, exactly as `iptables-save -t mangle` prints them. */
export function dsrChainRules(plan: DsrPlan): string[] {
  const out: string[] = [];
  for (const m of plan.marks) {
    out.push(`-d ${m.vip}/32 ${matchProto(m.protocol)} --dport ${m.port} -m comment --comment ${quoteComment(`DSR ${m.service}`)} -j MARK --set-xmark 0x${m.fwmark.toString(16)}/0xffffffff`);
    // The pod's SYN-ACK advertises an MSS the client's segments can keep once IPVS adds the IPIP header.
    if (m.protocol === 'tcp') out.push(`-s ${m.vip}/32 -i ${POD_BRIDGE} ${matchProto('tcp')} --sport ${m.port} --tcp-flags SYN,RST SYN -j TCPMSS --set-mss ${plan.tcpMss}`);
  }
  return out;
}

/** A policy rule we own, in the form `ip rule` takes and prints. */
export interface PolicyRule {
  readonly priority: number;
  readonly fwmark?: number;
  readonly table: number;
}

export const ruleKey = (r: PolicyRule) => `${r.priority} ${r.fwmark ?? '-'} ${r.table}`;

export function desiredRules(plan: DsrPlan): PolicyRule[] {
  const out: PolicyRule[] = plan.marks.map((m) => ({ priority: DSR_RULE_PRIORITY, fwmark: m.fwmark, table: DSR_TABLE }));
  if (plan.bridgeRoutes.length) out.push({ priority: EXTERNAL_IP_RULE_PRIORITY, table: EXTERNAL_IP_TABLE });
  // Two services may share a mark only through a hash collision, which compile turns into one virtual server.
  return [...new Map(out.map((r) => [ruleKey(r), r])).values()];
}

/** Our rules among `ip -o rule show` lines: priority and table are ours, nothing else is claimed. */
export function parseRules(text: string): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):\s+from all (?:fwmark (0x[0-9a-f]+|\d+) )?lookup (\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const priority = Number(m[1]);
    const table = Number(m[3]);
    const fwmark = m[2] !== undefined ? Number(m[2]) : undefined;
    const ours = (priority === DSR_RULE_PRIORITY && table === DSR_TABLE && fwmark !== undefined) || (priority === EXTERNAL_IP_RULE_PRIORITY && table === EXTERNAL_IP_TABLE && fwmark === undefined);
    if (ours) out.push({ priority, table, ...(fwmark !== undefined ? { fwmark } : {}) });
  }
  return out;
}

const ruleSpec = (r: PolicyRule) => `prio ${r.priority}${r.fwmark !== undefined ? ` fwmark 0x${r.fwmark.toString(16)}` : ''} table ${r.table}`;

/** A route of table 78 or 79, as `ip route` takes it and prints it (`ip -o route show table N`). */
export interface TableRoute {
  readonly table: number;
  /** e.g. "local default dev lo scope host", "192.0.2.20 dev kube-bridge scope link". */
  readonly spec: string;
}

export function desiredRoutes(plan: DsrPlan): TableRoute[] {
  return [
    ...(plan.marks.length ? [{ table: DSR_TABLE, spec: 'local default dev lo scope host' }] : []),
    ...plan.bridgeRoutes.map((vip) => ({ table: EXTERNAL_IP_TABLE, spec: `${vip} dev ${POD_BRIDGE} scope link` })),
  ];
}

/** `ip -o route show table N` lines as TableRoutes (only table N's own, everything in it is ours). */
export function parseRoutes(table: number, text: string): TableRoute[] {
  return text
    .split('\n')
    // Flags the kernel adds by link state (no carrier) are not part of the route.
    .map((l) => l.replace(/\b(linkdown|dead)\b/g, '').trim().replace(/\s+/g, ' '))
    .filter(Boolean)
    .map((spec) => ({ table, spec }));
}

/** `ip -batch` lines from `have` to `want`: additions first, removals after. */
export function policyBatch(want: { rules: readonly PolicyRule[]; routes: readonly TableRoute[] }, have: { rules: readonly PolicyRule[]; routes: readonly TableRoute[] }): string[] {
  const rk = (r: TableRoute) => `${r.table} ${r.spec}`;
  const haveRules = new Set(have.rules.map(ruleKey));
  const wantRules = new Set(want.rules.map(ruleKey));
  const haveRoutes = new Set(have.routes.map(rk));
  const wantRoutes = new Set(want.routes.map(rk));
  return [
    ...want.routes.filter((r) => !haveRoutes.has(rk(r))).map((r) => `route replace ${r.spec} table ${r.table}`),
    ...want.rules.filter((r) => !haveRules.has(ruleKey(r))).map((r) => `rule add ${ruleSpec(r)}`),
    ...have.rules.filter((r) => !wantRules.has(ruleKey(r))).map((r) => `rule del ${ruleSpec(r)}`),
    ...have.routes.filter((r) => !wantRoutes.has(rk(r))).map((r) => `route del ${r.spec} table ${r.table}`),
  ];
}

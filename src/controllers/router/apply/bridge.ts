// kube-bridge (the pods' default gateway), forwarding and br_netfilter sysctls, and discovery of the
// node-IP interface (its MTU feeds --auto-mtu, its connected subnets decide direct route vs tunnel).
import { existsSync } from 'node:fs';
import { BRIDGE_NAME } from '../compile/cni.js';
import { firstHost, formatCIDR, parseCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../../model/normalize/ip.js';
import { execAnyCode, setSysctl, type Exec } from '../../../dataplane/exec.js';
import { ipBatch, showAddresses, type IpLink } from '../../../dataplane/ip/ip.js';

export interface NodeInterface {
  readonly name: string;
  readonly mtu: number;
  /** Connected subnets of this interface, canonical. */
  readonly subnets: readonly string[];
}

export function listAddresses(exec: Exec): Promise<IpLink[]> {
  return showAddresses(exec);
}

/** The interface(s) holding the node's IPs. */
export async function findNodeInterfaces(exec: Exec, nodeIPs: readonly string[]): Promise<NodeInterface[]> {
  const links = await listAddresses(exec);
  const out: NodeInterface[] = [];
  for (const l of links) {
    const infos = (l.addr_info ?? []).filter((a) => nodeIPs.includes(a.local));
    if (infos.length === 0) continue;
    const subnets = (l.addr_info ?? [])
      .filter((a) => a.scope !== 'link' && a.scope !== 'host')
      .map((a) => parseCIDR(`${a.local}/${a.prefixlen}`, GO_ADDRESSES))
      .filter((c) => c !== undefined)
      .map((c) => formatCIDR(c, GO_ADDRESSES));
    out.push({ name: l.ifname, mtu: l.mtu ?? 1500, subnets: [...new Set(subnets)] });
  }
  return out;
}

export interface BridgeResult {
  readonly created: boolean;
  readonly commands: number;
}

/** Creates/updates kube-bridge: gateway address (first IP) of every pod CIDR, MTU, up. Idempotent. */
export async function ensureBridge(exec: Exec, podCidrs: readonly string[], mtu: number): Promise<BridgeResult> {
  const links = await listAddresses(exec);
  const br = links.find((l) => l.ifname === BRIDGE_NAME);
  const cmds: string[] = [];
  if (!br) cmds.push(`link add ${BRIDGE_NAME} type bridge`);
  const want = podCidrs.map((c) => `${firstHost(c, GO_ADDRESSES)}/${parseCIDR(c, GO_ADDRESSES)!.prefix}`);
  const have = (br?.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of want) if (!have.includes(a)) cmds.push(`addr replace ${a} dev ${BRIDGE_NAME}`);
  // A gateway left from an older pod CIDR would answer for a subnet this node no longer owns.
  for (const a of have) if (!want.includes(a)) cmds.push(`addr del ${a} dev ${BRIDGE_NAME}`);
  if (mtu > 0 && br?.mtu !== mtu) cmds.push(`link set ${BRIDGE_NAME} mtu ${mtu}`);
  if (!br || !(br.flags ?? []).includes('UP')) cmds.push(`link set ${BRIDGE_NAME} up`);
  await ipBatch(exec, cmds);
  return { created: !br, commands: cmds.length };
}

export async function ensureSysctls(exec: Exec, podCidrs: readonly string[]): Promise<string[]> {
  const warnings: string[] = [];
  // br_netfilter may be built in (no modprobe needed) or missing from a container image; the sysctl check below is what counts.
  // Loaded already (the usual case after the first sync): no process to start.
  if (!existsSync('/sys/module/br_netfilter')) await execAnyCode(exec, 'modprobe', ['br_netfilter']).catch(() => undefined);
  const v6 = podCidrs.some((c) => parseCIDR(c, GO_ADDRESSES)?.family === 6);
  const settings: [string, string][] = [['net.ipv4.ip_forward', '1'], ['net.bridge.bridge-nf-call-iptables', '1']];
  if (v6) settings.push(['net.ipv6.conf.all.forwarding', '1'], ['net.bridge.bridge-nf-call-ip6tables', '1']);
  for (const [k, v] of settings) {
    try {
      await setSysctl(exec, k, v);
    } catch (e) {
      warnings.push(`sysctl ${k}=${v} failed: ${(e as Error).message}`);
    }
  }
  return warnings;
}

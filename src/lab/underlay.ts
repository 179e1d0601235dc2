// The lab's "physical" network: a hub namespace holding one bridge per L2 segment, one namespace per
// node with its eth0 on a segment, and optionally a router ("tor") namespace joined to every segment.
// Nothing is created in the host's own namespace: veths are made inside the hub and their peers are
// placed straight into the node namespaces.
import { hubNetns, nodeName, nodeNetns, torNetns, underlayIP, UNDERLAY_PREFIXLEN } from './config.js';
import { readdirSync } from 'node:fs';
import { ipBatch, killTree, must, netnsPids, run } from './sh.js';

/** ICMP error rate limits lifted on lab nodes (see createUnderlay). */
export const ICMP_UNLIMITED = ['net.ipv4.icmp_ratelimit=0', 'net.ipv4.icmp_msgs_per_sec=1000000', 'net.ipv4.icmp_msgs_burst=1000000'];

export interface UnderlayPlan {
  readonly prefix: string;
  readonly nodes: number;
  readonly segments: number;
  readonly tor: boolean;
}

export interface UnderlayNode {
  readonly index: number;
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  readonly segment: number;
}

export interface Underlay {
  readonly hub: string;
  readonly segments: { bridge: string; cidr: string; gateway?: string }[];
  readonly nodes: UnderlayNode[];
  readonly tor?: { netns: string; ips: string[] };
}

export function planUnderlay(p: UnderlayPlan): Underlay {
  const segments = Math.max(1, p.segments);
  const withRouter = p.tor || segments > 1;
  const segs = Array.from({ length: segments }, (_, s) => ({
    bridge: `br${s}`,
    cidr: `${underlayIP(s, 0)}/${UNDERLAY_PREFIXLEN}`,
    ...(withRouter ? { gateway: underlayIP(s, 1) } : {}),
  }));
  const nodes = Array.from({ length: p.nodes }, (_, i) => {
    const segment = i % segments;
    return { index: i, name: nodeName(i), netns: nodeNetns(p.prefix, i), ip: underlayIP(segment, 11 + i), segment };
  });
  return {
    hub: hubNetns(p.prefix),
    segments: segs,
    nodes,
    ...(withRouter ? { tor: { netns: torNetns(p.prefix), ips: segs.map((s) => s.gateway as string) } } : {}),
  };
}

/** Every namespace the plan will create, in creation order (recorded in the journal before creation). */
export function underlayNamespaces(u: Underlay): string[] {
  return [u.hub, ...u.nodes.map((n) => n.netns), ...(u.tor ? [u.tor.netns] : [])];
}

/** Named namespaces, as `ip netns list` finds them (its run dir), without starting a process for it. */
function namedNetns(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

export async function createUnderlay(u: Underlay): Promise<void> {
  const existing = new Set(namedNetns());
  const clash = underlayNamespaces(u).filter((n) => existing.has(n));
  if (clash.length > 0) {
    throw new Error(`network namespaces already exist: ${clash.join(', ')} (another lab with this prefix? run 'lab down')`);
  }
  await ipBatch(underlayNamespaces(u).map((n) => `netns add ${n}`));

  const hub: string[] = ['link set lo up'];
  for (const s of u.segments) hub.push(`link add ${s.bridge} type bridge`, `link set ${s.bridge} up`);
  for (const n of u.nodes) {
    hub.push(`link add vn${n.index + 1} type veth peer name eth0 netns ${n.netns}`);
    hub.push(`link set vn${n.index + 1} master br${n.segment} up`);
  }
  if (u.tor) {
    u.segments.forEach((s, i) => {
      hub.push(`link add vt${i} type veth peer name eth${i} netns ${u.tor!.netns}`);
      hub.push(`link set vt${i} master ${s.bridge} up`);
    });
  }
  await ipBatch(hub, u.hub);

  await Promise.all(
    u.nodes.map(async (n) => {
      const gw = u.segments[n.segment]?.gateway;
      await ipBatch(
        [
          'link set lo up',
          `addr add ${n.ip}/${UNDERLAY_PREFIXLEN} dev eth0`,
          'link set eth0 up',
          ...(gw ? [`route add default via ${gw}`] : []),
        ],
        n.netns,
      );
      // A Kubernetes node forwards (kubelet and every CNI require it); the agent checks, it does not set it.
      // A firewall REJECT answers with an ICMP error from the node, and the kernel rate-limits those per
      // destination (a burst of 6, then 1/s) and per namespace (burst 50): a probe matrix with many
      // rejected cells would see most of them time out instead of being refused, and take seconds longer.
      // What is allowed or blocked does not change. Lifted on lab nodes only (nsenter: /proc/sys/net is
      // per network namespace, and unlike `ip netns exec` it does not remount /sys; -e: an older kernel
      // without a key keeps its default). One process for all of them: process starts are what UML makes slow.
      await must('nsenter', [`--net=/var/run/netns/${n.netns}`, 'sysctl', '-qew', 'net.ipv4.ip_forward=1', ...ICMP_UNLIMITED]);
    }),
  );
  if (u.tor) {
    const t = u.tor;
    await ipBatch(
      ['link set lo up', ...u.segments.flatMap((s, i) => [`addr add ${s.gateway}/${UNDERLAY_PREFIXLEN} dev eth${i}`, `link set eth${i} up`])],
      t.netns,
    );
    await must('ip', ['netns', 'exec', t.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  }
}

/**
 * Removes a lab-made namespace and everything in it. Processes are killed first: a namespace whose
 * last process is gone takes its veths (and their peers) with it.
 */
export async function destroyNetns(name: string): Promise<void> {
  const pids = await netnsPids(name);
  await Promise.all(pids.map((pid) => killTree(pid, undefined, 1000)));
  const r = await run('ip', ['netns', 'delete', name]);
  if (r.code !== 0 && !/No such file|not exist|Invalid/.test(r.stderr)) {
    throw new Error(`ip netns delete ${name}: ${r.stderr.trim()}`);
  }
}

// Kernel test scaffolding: "nodes" are network namespaces on a bridge underlay (itself a namespace, so
// the root namespace is never touched), "pods" are namespaces attached by the real CNI bridge plugin
// using the conflist the controller wrote.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function sh(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
}
export function nsRun(ns: string, cmd: string, args: readonly string[], input?: string): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], input);
}
export function nsTry(ns: string, cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: nsRun(ns, cmd, args) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

export function deleteNetnsWithPrefix(prefix: string): void {
  const list = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
  for (const ns of list) {
    // Kill whatever still runs inside (socat servers, daemons) before the namespace goes.
    try { sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).forEach((pid) => { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }); } catch { /* ignore */ }
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
  }
}

export interface Underlay {
  readonly ns: string;
  /** Adds a node netns with eth0 = `cidr` (e.g. "172.31.0.11/24") on the underlay bridge. */
  addNode(name: string, cidr: string, gateway?: string): string;
}

export function createUnderlay(prefix: string, gatewayCidrs: readonly string[] = []): Underlay {
  const ns = `${prefix}ul`;
  sh('ip', ['netns', 'add', ns]);
  const b = (args: string) => sh('ip', ['-n', ns, ...args.split(' ')]);
  b('link set lo up');
  b('link add br0 type bridge');
  b('link set br0 up');
  for (const c of gatewayCidrs) b(`addr add ${c} dev br0`);
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  let i = 0;
  return {
    ns,
    addNode(name, cidr, gateway) {
      const node = `${prefix}${name}`;
      const peer = `v${i++}`;
      sh('ip', ['netns', 'add', node]);
      b(`link add ${peer} type veth peer name eth0 netns ${node}`);
      b(`link set ${peer} master br0 up`);
      const n = (args: string) => sh('ip', ['-n', node, ...args.split(' ')]);
      n('link set lo up');
      n(`addr add ${cidr} dev eth0`);
      n('link set eth0 up');
      if (gateway) n(`route add default via ${gateway}`);
      return node;
    },
  };
}

/** Creates pod netns `pod` attached to `nodeNs`'s kube-bridge by the CNI plugins named in `conflistPath`. */
export function addPod(nodeNs: string, pod: string, conflistPath: string, ipamDir: string, cniPath = '/usr/lib/cni'): string {
  sh('ip', ['netns', 'add', pod]);
  const list = JSON.parse(readFileSync(conflistPath, 'utf8')) as { cniVersion: string; name: string; plugins: { type: string; ipam?: object }[] };
  const bridge = list.plugins.find((p) => p.type === 'bridge')!;
  // host-local keeps its leases under dataDir; point it at the test's temp dir, never /var/lib/cni.
  const conf = JSON.stringify({ cniVersion: list.cniVersion, name: list.name, ...bridge, ipam: { ...bridge.ipam, dataDir: ipamDir } });
  const env = [`CNI_COMMAND=ADD`, `CNI_CONTAINERID=${pod}`, `CNI_NETNS=/var/run/netns/${pod}`, `CNI_PATH=${cniPath}`];
  nsRun(nodeNs, 'env', [...env, 'CNI_IFNAME=lo', `${cniPath}/loopback`], JSON.stringify({ cniVersion: list.cniVersion, name: 'lo', type: 'loopback' }));
  const res = JSON.parse(nsRun(nodeNs, 'env', [...env, 'CNI_IFNAME=eth0', `${cniPath}/bridge`], conf)) as { ips: { address: string }[] };
  return res.ips[0]!.address.split('/')[0]!;
}

export function spawnIn(ns: string, cmd: string, args: readonly string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function routesProto17(ns: string): { dst: string; gateway?: string; dev?: string }[] {
  return JSON.parse(nsRun(ns, 'ip', ['-j', 'route', 'show', 'proto', '17']) || '[]');
}

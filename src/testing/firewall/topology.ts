// A small two-node world in network namespaces: each node has kube-bridge with its pod CIDR and pods
// on veths (as the CNI bridge plugin wires them), nodes are joined by an underlay veth and route each
// other's pod CIDR. Pods run socat servers on 80/TCP, 81/TCP, 80/UDP (reply "ok") and 82/TCP (echo).
import { spawn, type ChildProcess } from 'node:child_process';
import { execHost } from '../../dataplane/exec.js';
import type { Netns } from './netns.js';

export interface TopoPod {
  readonly ns: string;
  readonly name: string;
  readonly ip: string;
}

export interface TopoNode {
  readonly name: string;
  /** e.g. 1 -> pod CIDR 10.244.1.0/24, underlay 192.168.50.1 */
  readonly index: number;
  readonly pods: readonly TopoPod[];
}

export interface Topology {
  /** node name -> netns */
  readonly nodeNs: Map<string, string>;
  /** "ns/name" -> netns */
  readonly podNs: Map<string, string>;
  readonly servers: ChildProcess[];
  stop(): void;
}

async function ip(args: string): Promise<void> {
  await execHost('ip', args.split(' '));
}

export async function buildTopology(nn: Netns, tag: string, nodes: readonly TopoNode[]): Promise<Topology> {
  const nodeNs = new Map<string, string>();
  const podNs = new Map<string, string>();
  const servers: ChildProcess[] = [];
  for (const n of nodes) {
    const ns = await nn.add(`${tag}n${n.index}`);
    nodeNs.set(n.name, ns);
    await execHost('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // REJECTs are ICMP errors, which the kernel rate-limits per peer (6, then 1/s): tests that probe in a
    // loop would see drops and time out instead of refusals.
    await execHost('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0']);
    await ip(`-n ${ns} link add kube-bridge type bridge`);
    await ip(`-n ${ns} addr add 10.244.${n.index}.1/24 dev kube-bridge`);
    await ip(`-n ${ns} link set kube-bridge up`);
    for (const p of n.pods) {
      const pns = await attachPod(nn, ns, `${tag}n${n.index}-${p.ns}${p.name}`, n.index, p.ip, servers);
      podNs.set(`${p.ns}/${p.name}`, pns);
    }
  }
  // Underlay: a chain of veths between consecutive nodes is enough for two nodes.
  if (nodes.length === 2) {
    const [a, b] = nodes as [TopoNode, TopoNode];
    const na = nodeNs.get(a.name)!;
    const nb = nodeNs.get(b.name)!;
    await ip(`-n ${na} link add underlay type veth peer name underlay netns ${nb}`);
    await ip(`-n ${na} addr add 192.168.50.${a.index}/24 dev underlay`);
    await ip(`-n ${nb} addr add 192.168.50.${b.index}/24 dev underlay`);
    await ip(`-n ${na} link set underlay up`);
    await ip(`-n ${nb} link set underlay up`);
    await ip(`-n ${na} route add 10.244.${b.index}.0/24 via 192.168.50.${b.index}`);
    await ip(`-n ${nb} route add 10.244.${a.index}.0/24 via 192.168.50.${a.index}`);
  }
  return {
    nodeNs,
    podNs,
    servers,
    stop() {
      for (const s of servers) s.kill('SIGKILL');
    },
  };
}

let vethSeq = 0;

/**
 * A pod netns on the node's kube-bridge, as the CNI bridge plugin wires it (veth, IP, default route via
 * the gateway), serving 80/TCP, 81/TCP, 80/UDP ("ok") and 82/TCP (echo). Usable after the topology is up,
 * so a test can create a pod the firewall has not heard of yet.
 */
export async function attachPod(nn: Netns, nodeNs: string, suffix: string, nodeIndex: number, podIp: string, servers: ChildProcess[]): Promise<string> {
  const pns = await nn.add(suffix);
  const veth = `veth${vethSeq++}`;
  await ip(`-n ${nodeNs} link add ${veth} type veth peer name eth0 netns ${pns}`);
  await ip(`-n ${nodeNs} link set ${veth} master kube-bridge`);
  await ip(`-n ${nodeNs} link set ${veth} up`);
  await ip(`-n ${pns} addr add ${podIp}/24 dev eth0`);
  await ip(`-n ${pns} link set eth0 up`);
  await ip(`-n ${pns} route add default via 10.244.${nodeIndex}.1`);
  const serve = (args: string[]): void => {
    const c = spawn('ip', ['netns', 'exec', pns, 'socat', ...args], { stdio: 'ignore' });
    c.on('error', () => undefined);
    servers.push(c);
  };
  serve(['TCP4-LISTEN:80,fork,reuseaddr', 'SYSTEM:echo ok']);
  serve(['TCP4-LISTEN:81,fork,reuseaddr', 'SYSTEM:echo ok']);
  serve(['UDP4-RECVFROM:80,fork,reuseaddr', 'SYSTEM:echo ok']);
  serve(['TCP4-LISTEN:82,fork,reuseaddr', 'EXEC:cat']);
  await waitListening(pns, 82);
  return pns;
}

async function waitListening(pns: string, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { stdout } = await execHost('ip', ['netns', 'exec', pns, 'ss', '-Hltn', `sport = :${port}`]);
    if (stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when a TCP connection to ip:port is established within 1 s from the pod netns. */
export async function tcpProbe(fromNs: string, ip: string, port: number): Promise<boolean> {
  const r = await execHost('ip', ['netns', 'exec', fromNs, 'nc', '-z', '-w', '1', ip, String(port)], { okCodes: [1] });
  return r.code === 0;
}

/** True when a UDP datagram to ip:port is answered within 1 s. */
export async function udpProbe(fromNs: string, ip: string, port: number): Promise<boolean> {
  const r = await execHost('ip', ['netns', 'exec', fromNs, 'socat', '-T1', '-', `UDP4:${ip}:${port}`], { input: 'x\n', okCodes: [1] });
  return r.stdout.includes('ok');
}

// Writes one character per attempt: 1 connected, 0 refused or timed out.
const LOOP = `
const net = require('node:net');
const [host, port] = process.argv.slice(-2);
let stop = false;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => (stop = true));
const go = () => {
  if (stop) return process.stdout.end();
  const s = net.connect({ host, port: Number(port), timeout: 1000 });
  let done = false;
  const fin = (ok) => { if (done) return; done = true; s.destroy(); process.stdout.write(ok ? '1' : '0', () => setImmediate(go)); };
  s.on('connect', () => fin(true)); s.on('error', () => fin(false)); s.on('timeout', () => fin(false));
};
go();
`;

/**
 * TCP connects from a pod netns to ip:port back to back (hundreds a second when rejected), counting
 * those that got through; `stop()` ends it. Finer-grained than spawning a probe per attempt, so a window
 * of a few milliseconds during a sync would show.
 */
export function connectLoop(
  fromNs: string,
  ip: string,
  port: number,
): { attempts(): number; stop(): Promise<{ attempts: number; connected: number }> } {
  const child = spawn('ip', ['netns', 'exec', fromNs, process.execPath, '-e', LOOP, ip, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    attempts: () => out.length,
    async stop() {
      child.stdin.end();
      await exited;
      if (!out) throw new Error(`connect loop from ${fromNs} made no attempt: ${err.trim()}`);
      return { attempts: out.length, connected: out.split('').filter((c) => c === '1').length };
    },
  };
}

// Finding a pod's network namespace by its IP, the way that works on any node: every network namespace
// on the host is either named (/run/netns, where CNI runtimes such as containerd and cri-o and our lab's
// kubelet pin them) or held by a process (/proc/PID/ns/net, e.g. Docker's); we list both, keep one path per
// namespace (by inode), and ask each for its addresses. kube-router instead asks the CRI for the
// container's PID (--runtime-endpoint), which needs a gRPC client and a runtime socket; matching the IP
// needs neither, only what DSR needs anyway (host PID namespace and the netns directory mounted).
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from '../../../dataplane/exec.js';

/** The pod-side interface kube-router names for DSR: IPIP, holding the service VIPs. */
export const TUNNEL_IF = 'kube-tunnel-if';

/** One network namespace as read from inside: its IPv4 addresses and our tunnel interface, if any. */
export interface NetnsView {
  /** A path nsenter --net= can open. */
  readonly path: string;
  /** IPv4 addresses on links other than lo and the tunnel interface. */
  readonly addresses: readonly string[];
  /** Undefined: no kube-tunnel-if; else the addresses it holds (sorted). */
  readonly tunnelVips?: readonly string[];
}

export interface NetnsSource {
  /** Directories of named namespaces. */
  readonly netnsDirs: readonly string[];
  /** Where processes are listed (their ns/net links). */
  readonly procRoot: string;
}

export const HOST_NETNS_SOURCE: NetnsSource = { netnsDirs: ['/run/netns', '/var/run/netns'], procRoot: '/proc' };

const nsInode = (link: string): string | undefined => /^net:\[(\d+)\]$/.exec(link)?.[1];

/** One path per network namespace other than our own: named ones first (stable), then processes'. */
export async function listNetns(src: NetnsSource = HOST_NETNS_SOURCE): Promise<string[]> {
  const self = nsInode(await readlink(join(src.procRoot, 'self/ns/net')).catch(() => ''));
  const seen = new Set<string>(self ? [self] : []);
  const out: string[] = [];
  for (const dir of src.netnsDirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, name);
      const ino = await stat(path).then((s) => String(s.ino), () => undefined);
      if (!ino || seen.has(ino)) continue;
      seen.add(ino);
      out.push(path);
    }
  }
  for (const pid of await readdir(src.procRoot).catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const path = join(src.procRoot, pid, 'ns/net');
    const ino = nsInode(await readlink(path).catch(() => ''));
    if (!ino || seen.has(ino)) continue;
    seen.add(ino);
    out.push(path);
  }
  return out;
}

/** Parses `ip -o -batch -` of "link show" and "addr show" (one line per link, then one per address). */
export function parseNetnsView(path: string, text: string): NetnsView {
  const addresses: string[] = [];
  const tunnel: string[] = [];
  let hasTunnel = false;
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:?\s/.exec(line);
    if (!m) continue;
    const dev = m[1];
    if (line.includes(' link/')) {
      if (dev === TUNNEL_IF) hasTunnel = true;
      continue;
    }
    const inet = /\sinet (\d+\.\d+\.\d+\.\d+)\//.exec(line)?.[1];
    if (!inet || dev === 'lo') continue;
    if (dev === TUNNEL_IF) tunnel.push(inet);
    else addresses.push(inet);
  }
  return { path, addresses, ...(hasTunnel ? { tunnelVips: tunnel.sort() } : {}) };
}

/** Reads one namespace: one process (nsenter runs ip). Undefined when the namespace is gone. */
export async function readNetns(exec: Exec, path: string): Promise<NetnsView | undefined> {
  const r = await exec('nsenter', [`--net=${path}`, 'ip', '-o', '-batch', '-'], { input: 'link show\naddr show\n', okCodes: [1, 2, 255] });
  return r.code === 0 ? parseNetnsView(path, r.stdout) : undefined;
}

/** Every namespace but ours, read; those that vanished meanwhile (a process exited) are left out. */
export async function scanNetns(exec: Exec, src: NetnsSource = HOST_NETNS_SOURCE): Promise<NetnsView[]> {
  const out: NetnsView[] = [];
  for (const path of await listNetns(src)) {
    const v = await readNetns(exec, path);
    if (v) out.push(v);
  }
  return out;
}

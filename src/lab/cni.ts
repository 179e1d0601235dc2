// Calls the real CNI plugins the way a container runtime does (libcni semantics, done by hand because
// there is no cnitool): every plugin of the node's conflist in order with prevResult chaining, then the
// loopback plugin for lo; DEL in reverse order with the cached ADD result.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './sh.js';
import type { KObj } from './kube.js';

export const CNI_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];

export interface Conflist {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly KObj[];
}

/** Reads a .conflist (or a single-plugin .conf); undefined when missing or unparsable. */
export function readConflist(path: string): Conflist | undefined {
  let raw: KObj;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as KObj;
  } catch {
    return undefined;
  }
  if (Array.isArray(raw['plugins'])) {
    return { cniVersion: String(raw['cniVersion'] ?? '0.4.0'), name: String(raw['name'] ?? 'kubernetes'), plugins: raw['plugins'] as KObj[] };
  }
  if (typeof raw['type'] === 'string') {
    return { cniVersion: String(raw['cniVersion'] ?? '0.4.0'), name: String(raw['name'] ?? 'kubernetes'), plugins: [raw] };
  }
  return undefined;
}

/**
 * The agent's router fills the pod CIDR into the bridge plugin's host-local IPAM; until it has, pods
 * cannot be networked (a kubelet would report "network not ready").
 */
export function conflistReady(c: Conflist | undefined): boolean {
  if (!c) return false;
  const ipam = c.plugins.find((p) => p['ipam'])?.['ipam'] as KObj | undefined;
  if (!ipam) return false;
  if (typeof ipam['subnet'] === 'string' && ipam['subnet']) return true;
  const ranges = ipam['ranges'];
  return Array.isArray(ranges) && ranges.some((set) => Array.isArray(set) && set.some((r: KObj) => typeof r?.['subnet'] === 'string' && r['subnet']));
}

/** The conflist kube-router's install-cni init container ships; the router patches the pod CIDR in. */
export function templateConflist(podCIDR?: string): KObj {
  const ipam: KObj = { type: 'host-local' };
  if (podCIDR) ipam['ranges'] = [[{ subnet: podCIDR }]];
  return {
    cniVersion: '0.3.0',
    name: 'mynet',
    plugins: [
      { name: 'kubernetes', type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, hairpinMode: true, ipam },
      { type: 'portmap', capabilities: { snat: true, portMappings: true } },
    ],
  };
}

function pluginPath(type: string): string | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(type)) return undefined;
  for (const d of CNI_DIRS) {
    const p = join(d, type);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface CniCall {
  readonly nodeNetns: string;
  readonly podNetns: string;
  readonly containerId: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly ifName: string;
  /** Per-node host-local dir, so nodes never share /var/lib/cni and `down` removes it. */
  readonly ipamDir: string;
  /** PATH the plugins run with (the node's iptables backend first); default this process's. */
  readonly path?: string;
  /** XTABLES_LOCKFILE of the node (portmap calls iptables). */
  readonly xtablesLock?: string;
  readonly portMappings: readonly { hostPort: number; containerPort: number; protocol: string }[];
}

export interface CniAddResult {
  readonly ip: string;
  readonly gateway?: string;
  /** The final chained result, kept for DEL. */
  readonly result: KObj;
}

function pluginConfig(list: Conflist, plugin: KObj, call: CniCall, prevResult?: KObj): KObj {
  const conf: KObj = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const ipam = conf['ipam'] as KObj | undefined;
  if (ipam && ipam['type'] === 'host-local' && !ipam['dataDir']) conf['ipam'] = { ...ipam, dataDir: call.ipamDir };
  const caps = (plugin['capabilities'] ?? {}) as KObj;
  if (caps['portMappings'] && call.portMappings.length > 0) {
    conf['runtimeConfig'] = { portMappings: call.portMappings.map((m) => ({ ...m, protocol: m.protocol.toLowerCase() })) };
  }
  if (prevResult) conf['prevResult'] = prevResult;
  return conf;
}

async function invoke(cmd: 'ADD' | 'DEL', conf: KObj, call: CniCall, ifName: string): Promise<KObj> {
  const type = String(conf['type'] ?? '');
  const bin = pluginPath(type);
  if (!bin) throw new Error(`CNI plugin ${JSON.stringify(type)} not found in ${CNI_DIRS.join(':')}`);
  const env = {
    PATH: call.path ?? process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    ...(call.xtablesLock ? { XTABLES_LOCKFILE: call.xtablesLock } : {}),
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: `/var/run/netns/${call.podNetns}`,
    CNI_IFNAME: ifName,
    CNI_PATH: CNI_DIRS.join(':'),
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${call.podNamespace};K8S_POD_NAME=${call.podName};K8S_POD_INFRA_CONTAINER_ID=${call.containerId}`,
  };
  // Plugins run in the node's namespace, where a runtime would run them (the bridge lives there).
  // nsenter only switches the network namespace; `ip netns exec` also remounts /sys, which costs a
  // lot inside UML and which the plugins (netlink and /proc/sys users) do not need.
  const r = await run('nsenter', [`--net=/var/run/netns/${call.nodeNetns}`, bin], { input: JSON.stringify(conf), env, timeoutMs: 30_000 });
  let out: KObj = {};
  try {
    out = r.stdout.trim() ? (JSON.parse(r.stdout) as KObj) : {};
  } catch {
    out = { msg: r.stdout };
  }
  if (r.code !== 0) {
    const msg = out['msg'] ?? out['message'] ?? r.stderr.trim() ?? `exit ${r.code}`;
    throw new Error(`CNI ${cmd} ${type}: ${String(msg)}${out['details'] ? ` (${String(out['details'])})` : ''}`);
  }
  return out;
}

export async function cniAdd(list: Conflist, call: CniCall): Promise<CniAddResult> {
  let prev: KObj | undefined;
  for (const plugin of list.plugins) prev = await invoke('ADD', pluginConfig(list, plugin, call, prev), call, call.ifName);
  await invoke('ADD', { cniVersion: list.cniVersion, name: 'lo', type: 'loopback' }, call, 'lo');
  const result = prev ?? {};
  const ips = (result['ips'] ?? []) as KObj[];
  const v4 = ips.find((i) => String(i['address'] ?? '').includes('.') && !String(i['address']).includes(':'));
  if (!v4) throw new Error(`CNI ADD returned no IPv4 address: ${JSON.stringify(result).slice(0, 300)}`);
  const gw = v4['gateway'] ? String(v4['gateway']) : undefined;
  return { ip: String(v4['address']).split('/')[0] as string, ...(gw ? { gateway: gw } : {}), result };
}

/** DEL never throws: a pod being torn down must always end up gone; failures are returned for logging. */
export async function cniDel(list: Conflist, call: CniCall, prevResult?: KObj): Promise<string[]> {
  const errs: string[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await invoke('DEL', pluginConfig(list, plugin, call, prevResult), call, call.ifName);
    } catch (e) {
      errs.push(String(e));
    }
  }
  return errs;
}

// The CNI config kube-router hands the kubelet: upstream bridge (kube-bridge, pods' default gateway) +
// host-local IPAM over the node's pod CIDR(s) + optional portmap. Merged into the existing file so an
// operator's additions (dataDir, extra plugins, custom fields) survive every rewrite.

export const BRIDGE_NAME = 'kube-bridge';
export const DEFAULT_NETWORK_NAME = 'kubernetes';
export const DEFAULT_CNI_VERSION = '0.3.0';

type Json = Record<string, unknown>;

export interface CniParams {
  readonly podCidrs: readonly string[];
  /** 0 = leave any existing value alone and add none. */
  readonly mtu: number;
  readonly hairpinMode: boolean;
  readonly portmap: boolean;
  /** .conflist (plugins array) or single-plugin .conf. */
  readonly listFormat: boolean;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function updateBridge(plugin: Json, p: CniParams): Json {
  const out: Json = { ...plugin, type: 'bridge', bridge: BRIDGE_NAME, isDefaultGateway: true, hairpinMode: p.hairpinMode };
  if (p.mtu > 0) out.mtu = p.mtu;
  const ipam: Json = isObj(plugin.ipam) ? { ...plugin.ipam } : {};
  if (typeof ipam.type !== 'string') ipam.type = 'host-local';
  // `ranges` supersedes the legacy single `subnet`; keeping both would make host-local reject the config.
  delete ipam.subnet;
  ipam.ranges = p.podCidrs.map((subnet) => [{ subnet }]);
  out.ipam = ipam;
  return out;
}

/**
 * Returns the config to write. `existing` is the parsed current file (undefined when absent or unreadable).
 * Pure: same input, same output, so the writer can skip the rename when nothing changed.
 */
export function buildCniConfig(existing: unknown, p: CniParams): Json {
  const base: Json = isObj(existing) ? structuredClone(existing) : {};
  if (!p.listFormat && !Array.isArray(base.plugins)) {
    const single: Json = { cniVersion: DEFAULT_CNI_VERSION, name: DEFAULT_NETWORK_NAME, ...base };
    return updateBridge(single, p);
  }
  const out: Json = { cniVersion: DEFAULT_CNI_VERSION, name: DEFAULT_NETWORK_NAME, ...base };
  // A single .conf being upgraded to a list: its plugin fields move into plugins[0].
  let plugins: Json[] = Array.isArray(base.plugins) ? base.plugins.filter(isObj) : [];
  if (!Array.isArray(base.plugins) && typeof base.type === 'string') {
    const { cniVersion: _v, name: _n, ...plugin } = base;
    plugins = [plugin];
    for (const k of Object.keys(plugin)) delete out[k];
  }
  const idx = plugins.findIndex((pl) => pl.type === 'bridge');
  if (idx >= 0) plugins[idx] = updateBridge(plugins[idx]!, p);
  else plugins.unshift(updateBridge({}, p));
  if (p.portmap && !plugins.some((pl) => pl.type === 'portmap')) {
    plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  }
  out.plugins = plugins;
  return out;
}

/** Plugin binaries the config needs, plus loopback (runtimes call it for every sandbox's lo). */
export function requiredCniPlugins(config: Json): string[] {
  const names = new Set<string>(['loopback']);
  const plugins: unknown[] = Array.isArray(config.plugins) ? config.plugins : [config];
  for (const pl of plugins) {
    if (!isObj(pl)) continue;
    if (typeof pl.type === 'string') names.add(pl.type);
    if (isObj(pl.ipam) && typeof pl.ipam.type === 'string') names.add(pl.ipam.type);
  }
  return [...names].sort();
}

/** Stable text for the file (and for the "unchanged, skip the write" comparison). */
export function renderCniConfig(config: Json): string {
  return JSON.stringify(config, null, 2) + '\n';
}

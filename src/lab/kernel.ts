// Which kernel the lab runs on. The host kernel is used when it has what the enabled controllers need;
// features are probed in a throwaway namespace so the host's interfaces are never touched.
import { existsSync } from 'node:fs';
import { run } from './sh.js';

export async function hostKernelFeatures(prefix: string): Promise<Set<string>> {
  const have = new Set<string>();
  if (existsSync('/proc/net/ip_vs')) have.add('ipvs');
  const ns = `${prefix}kprobe`;
  await run('ip', ['netns', 'add', ns]);
  try {
    if ((await run('ip', ['-n', ns, 'link', 'add', 'krd0', 'type', 'dummy'])).code === 0) have.add('dummy');
    if ((await run('ip', ['-n', ns, 'link', 'add', 'krt0', 'type', 'ipip', 'local', '192.0.2.1', 'remote', '192.0.2.2'])).code === 0) have.add('ipip');
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
  return have;
}

export type KernelChoice = { kernel: 'host' | 'uml'; missing: string[]; note?: string };

export async function chooseKernel(want: 'host' | 'uml' | 'auto', need: readonly string[], prefix: string): Promise<KernelChoice> {
  if (want === 'uml') return { kernel: 'uml', missing: [] };
  const have = await hostKernelFeatures(prefix);
  const missing = need.filter((f) => !have.has(f));
  if (want === 'host' || missing.length === 0) {
    return { kernel: 'host', missing, ...(missing.length ? { note: `host kernel lacks ${missing.join(', ')}; forced --kernel host, the agents may fail` } : {}) };
  }
  return {
    kernel: 'uml',
    missing,
    note: `host kernel lacks ${missing.join(', ')}: running the lab in a user-mode Linux kernel (~100x syscall cost, no nf_tables: agents use iptables-legacy)`,
  };
}

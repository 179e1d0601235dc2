// The iptables backend of the lab's nodes. A Debian host picks nft or legacy with the alternatives
// system (/usr/sbin/iptables -> /etc/alternatives/iptables -> iptables-nft); the lab does the same per
// lab, without touching the host's alternatives: a bin dir in the state dir holds `iptables`,
// `iptables-save`, ... symlinks to the chosen backend's binaries, and goes first in the PATH of
// everything the lab runs in node namespaces (agents, CNI plugins, `lab exec`). The xtables multi
// binaries dispatch on argv[0]'s basename, so `<bin>/iptables-save` -> iptables-legacy-save behaves as
// the legacy iptables-save, exactly as through /etc/alternatives.
import { existsSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from './sh.js';

export type IptablesBackend = 'nft' | 'legacy';
export const IPTABLES_BACKENDS: readonly IptablesBackend[] = ['nft', 'legacy'];

/** The names a host's alternatives switch between backends. */
export const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'] as const;

/** `iptables-save` + backend -> `iptables-legacy-save` (the Debian/upstream naming of the variants). */
export function variantName(tool: string, backend: IptablesBackend): string {
  return tool.replace(/^(ip6?tables)/, `$1-${backend}`);
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** First `name` on PATH (plus the sbin dirs, which a non-login root shell may lack). */
export function which(name: string, path = process.env['PATH'] ?? DEFAULT_PATH): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin'].filter((d) => d.length > 0);
  for (const d of dirs) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** What the host's `iptables` is (its alternatives): the backend `iptables -V` names. */
export async function hostIptablesBackend(): Promise<IptablesBackend | undefined> {
  const r = await run('iptables', ['-V']).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  const text = r.stdout + r.stderr;
  if (/nf_tables/.test(text)) return 'nft';
  if (/legacy/.test(text)) return 'legacy';
  return undefined;
}

/** Resolves the `--iptables` choice; throws a clear reason when it cannot be honoured. */
export async function chooseIptables(want: IptablesBackend | 'host' | undefined, kernel: 'host' | 'uml'): Promise<{ backend: IptablesBackend; note?: string }> {
  if (kernel === 'uml') {
    // The UML kernel is built without nf_tables: only the legacy backend can work there.
    if (want === 'nft') throw new Error('--iptables nft: the user-mode Linux kernel has no nf_tables; use --iptables legacy (or --kernel host)');
    return { backend: 'legacy', ...(want === 'legacy' ? {} : { note: 'user-mode Linux has no nf_tables: the nodes use iptables-legacy' }) };
  }
  let backend: IptablesBackend;
  let note: string | undefined;
  if (want === 'nft' || want === 'legacy') backend = want;
  else {
    const host = await hostIptablesBackend();
    backend = host ?? 'nft';
    if (!host) note = "could not tell the host's iptables backend (`iptables -V`); the nodes use nft";
  }
  const missing = IPTABLES_TOOLS.map((t) => variantName(t, backend)).filter((v) => !which(v));
  if (missing.length) throw new Error(`--iptables ${backend}: ${missing.join(', ')} not installed (apt-get install iptables)`);
  return { backend, ...(note ? { note } : {}) };
}

/** Makes `<dir>` hold the six alternatives-style symlinks for `backend`; returns the dir. */
export function makeIptablesBin(dir: string, backend: IptablesBackend): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const tool of IPTABLES_TOOLS) {
    const target = which(variantName(tool, backend));
    if (!target) throw new Error(`${variantName(tool, backend)} not found`);
    symlinkSync(target, join(dir, tool));
  }
  return dir;
}

/** PATH with the lab's iptables bin dir first (unchanged when the lab has none, e.g. an old state). */
export function labPath(binDir: string | undefined, path = process.env['PATH'] ?? DEFAULT_PATH): string {
  if (!binDir) return path;
  return [binDir, ...path.split(delimiter).filter((d) => d !== binDir && d.length > 0)].join(delimiter);
}

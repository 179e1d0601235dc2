// Which iptables userspace to drive, chosen the way the host chooses (kube-router's iptables-wrapper
// heuristic): prefer what `iptables -V` reports, unless only the other backend already holds rules.
import type { Exec } from '../exec.js';

export type BackendName = 'nft' | 'legacy';
export type Family = 4 | 6;

export interface IptablesBinaries {
  readonly backend: BackendName;
  readonly family: Family;
  readonly save: string;
  readonly restore: string;
  readonly cli: string;
}

export function binaries(backend: BackendName, family: Family): IptablesBinaries {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  return {
    backend,
    family,
    save: `${base}-${backend}-save`,
    restore: `${base}-${backend}-restore`,
    cli: `${base}-${backend}`,
  };
}

/** Counts the rules of every table one backend holds (no `-t`, so nothing gets created by looking). */
async function countRules(exec: Exec, backend: BackendName): Promise<number> {
  let n = 0;
  for (const family of [4, 6] as const) {
    try {
      const { stdout } = await exec(binaries(backend, family).save, []);
      for (const line of stdout.split('\n')) if (line.startsWith('-A ')) n++;
    } catch {
      // A backend whose userspace is missing or broken holds nothing we could use.
    }
  }
  return n;
}

export interface BackendChoice {
  readonly backend: BackendName;
  readonly reason: string;
}

// One detection per Exec: the agent's controllers share one (it is the same host for all of them), and
// detecting costs five process starts (seconds inside user-mode Linux). Tests get a fresh Exec per netns.
const detected = new WeakMap<Exec, Promise<BackendChoice>>();

export function detectBackend(exec: Exec, force: 'auto' | BackendName = 'auto'): Promise<BackendChoice> {
  if (force !== 'auto') return Promise.resolve({ backend: force, reason: 'forced by option' });
  let p = detected.get(exec);
  if (!p) {
    p = detect(exec);
    detected.set(exec, p);
  }
  return p;
}

async function detect(exec: Exec): Promise<BackendChoice> {
  let preferred: BackendName = 'nft';
  let reason = '`iptables -V` reports nf_tables';
  try {
    const { stdout, stderr } = await exec('iptables', ['-V']);
    if (/legacy/.test(stdout + stderr)) {
      preferred = 'legacy';
      reason = '`iptables -V` reports legacy';
    }
  } catch {
    reason = '`iptables -V` failed; defaulting to nft';
  }
  const other: BackendName = preferred === 'nft' ? 'legacy' : 'nft';
  const [mine, theirs] = await Promise.all([countRules(exec, preferred), countRules(exec, other)]);
  // Rules already in one backend mean the host (kubelet, another CNI, our previous run) lives there.
  if (theirs > mine) {
    return { backend: other, reason: `${other} holds ${theirs} rules, ${preferred} holds ${mine}` };
  }
  return { backend: preferred, reason };
}

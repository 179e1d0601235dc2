// Which iptables userspace to drive, chosen the way the host chooses (kube-router's iptables-wrapper
// heuristic): prefer what `iptables -V` reports, unless only the other backend already holds rules.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runsHere, type Exec } from '../exec.js';

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

/**
 * Whether the kernel itself says a backend holds nothing in this namespace, without a process (each `*-save`
 * costs a process start: ~0.1 s of CPU, seconds of wall time inside user-mode Linux). x_tables lists the
 * tables that exist in the reader's namespace in /proc/net/ip{,6}_tables_names (absent: the module is not
 * loaded); nf_tables, loaded or built in, shows in /sys/module. Undefined: the kernel does not say.
 */
function kernelSaysEmpty(backend: BackendName, family: Family): boolean | undefined {
  try {
    if (backend === 'legacy') {
      if (!existsSync('/proc/net')) return undefined;
      const f = `/proc/net/${family === 4 ? 'ip' : 'ip6'}_tables_names`;
      return !existsSync(f) || readFileSync(f, 'utf8').trim() === '';
    }
    if (!existsSync('/sys/module')) return undefined;
    return !existsSync('/sys/module/nf_tables');
  } catch {
    return undefined;
  }
}

/**
 * Whether x_tables says table `table` (filter, nat, mangle, ...) does not exist in this process's namespace:
 * it is not in /proc/net/ip{,6}_tables_names (no rule can be in it). Undefined: /proc does not say. For
 * iptables-legacy only, and only for callers whose commands run here.
 */
export function legacyTableAbsent(family: Family, table: string): boolean | undefined {
  try {
    if (!existsSync('/proc/net')) return undefined;
    const f = `/proc/net/${family === 4 ? 'ip' : 'ip6'}_tables_names`;
    return !existsSync(f) || !readFileSync(f, 'utf8').split('\n').includes(table);
  } catch {
    return undefined;
  }
}

/** Counts the rules of every table one backend holds (no `-t`, so nothing gets created by looking). */
async function countRules(exec: Exec, backend: BackendName): Promise<number> {
  let n = 0;
  for (const family of [4, 6] as const) {
    // Only for commands that run here: /proc/net shows the reader's namespace.
    if (runsHere(exec) && kernelSaysEmpty(backend, family) === true) continue;
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
  const multi = runsHere(exec) ? iptablesMultiBinary() : undefined;
  if (multi) {
    // What `iptables -V` would say, read from the binary it is: xtables-legacy-multi or xtables-nft-multi
    // (anything else, a wrapper script say, is asked).
    preferred = multi;
    reason = `iptables is ${multi === 'legacy' ? 'xtables-legacy-multi' : 'xtables-nft-multi'}`;
  } else try {
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

/** The backend of the `iptables` on PATH when it is one of the two multi binaries (symlinks followed). */
function iptablesMultiBinary(): BackendName | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (!dir) continue;
    try {
      const name = basename(realpathSync(join(dir, 'iptables')));
      return name === 'xtables-legacy-multi' ? 'legacy' : name === 'xtables-nft-multi' ? 'nft' : undefined;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

// One way to build and load the project's small N-API addons (BGP socket options, the firewall's netfilter
// writer, the IPVS netlink socket, the posix_spawn process runner): the system C compiler against Node's own
// headers, run ahead of time by scripts/setup.sh (each addon's build.ts) and on first use as the fallback.
// Each addon's caller decides what its absence means (a refused peer, a spawned binary, ipvsadm, a fork).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AddonSpec {
  /** Module name: `<name>.c` in the source folder builds `build/<name>.node`. */
  readonly name: string;
  /** The source folder relative to src/, e.g. `bgp/native`. */
  readonly dir: string;
  /** Environment variable that points at a prebuilt addon (the image sets it). */
  readonly env: string;
  /** Extra linker arguments, e.g. `-ldl`. */
  readonly link?: readonly string[];
  /** What the loader's Error says before the reason, e.g. `IPVS netlink addon`. */
  readonly label: string;
}

export interface Addon<T> {
  path(): string;
  /** Compiles the addon and returns its path. Throws on failure. */
  build(): string;
  /** The loaded addon (built first if missing), or the Error explaining why it cannot be had; remembered. */
  load(): T | Error;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The source folder: src/<dir> seen from src/native/, from dist/native/ or from the one-file bundle in dist/cli/. */
function sourceDir(spec: AddonSpec): string {
  const candidates = [resolve(here, '..', spec.dir), resolve(here, '../../src', spec.dir)];
  return candidates.find((d) => existsSync(join(d, `${spec.name}.c`))) ?? candidates[0]!;
}

export function nativeAddon<T>(spec: AddonSpec): Addon<T> {
  let cached: T | Error | undefined;
  const path = (): string => process.env[spec.env] ?? join(sourceDir(spec), 'build', `${spec.name}.node`);
  const build = (): string => {
    const src = join(sourceDir(spec), `${spec.name}.c`);
    const out = join(sourceDir(spec), 'build', `${spec.name}.node`);
    const include = resolve(dirname(process.execPath), '..', 'include', 'node');
    if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node headers not found in ${include}`);
    mkdirSync(dirname(out), { recursive: true });
    // Test workers may build at once: each writes its own file and renames it, so none loads a half-written one.
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, `-DNODE_GYP_MODULE_NAME=${spec.name}`, src, '-o', tmp, ...(spec.link ?? [])], { stdio: 'pipe' });
    renameSync(tmp, out);
    return out;
  };
  const load = (): T | Error => {
    if (cached) return cached;
    try {
      const p = path();
      if (!existsSync(p)) build();
      cached = createRequire(import.meta.url)(p) as T;
    } catch (e) {
      cached = new Error(`${spec.label} unavailable (${(e as Error).message.split('\n')[0]}); run "npx tsx src/${spec.dir}/build.ts"`);
    }
    return cached;
  };
  return { path, build, load };
}

/** The body of each addon's build.ts: builds it and says where, or why not (exit code 1). */
export function buildFromCli(addon: Addon<unknown>, label: string): void {
  try {
    console.log(`built ${addon.build()}`);
  } catch (e) {
    console.error(`${label} build failed: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

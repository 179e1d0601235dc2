// One check script run inside a user-mode Linux kernel (this host kernel lacks IPVS): a throw-away folder
// under the repository (shared with UML over hostfs), the given modules loaded, `node CHECK DIR/found.json
// ...ARGS` as init, then power off. The check writes what it found as JSON; its output goes to inner.log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

export const umlInstalled = (): boolean => existsSync('/usr/bin/linux.uml');

export interface UmlCheckSpec {
  /** Folder name prefix under the repository (`.uml-...-`). */
  readonly prefix: string;
  readonly modules: readonly string[];
  /** The script run as init's last step, with DIR/found.json and then `args`. */
  readonly check: string;
  readonly args?: (dir: string) => readonly string[];
  readonly memMB: number;
  readonly timeoutMs: number;
}

export interface UmlCheck {
  readonly dir: string;
  /** A file the check left in its folder (inner.log, an agent log), `tail` characters of its end; a placeholder when absent. */
  log(name: string, tail?: number): string;
  /** found.json as written by the check; throws with inner.log when the check wrote nothing. */
  found(): unknown;
  remove(): void;
}

export function runUmlCheck(spec: UmlCheckSpec): UmlCheck {
  const dir = mkdtempSync(join(REPO_ROOT, spec.prefix));
  const ver = readdirSync('/usr/lib/uml/modules')[0]!;
  mkdirSync(join(dir, 'mod', 'lib', 'modules'), { recursive: true });
  symlinkSync(`/usr/lib/uml/modules/${ver}`, join(dir, 'mod', 'lib', 'modules', ver));
  writeFileSync(join(dir, 'init.sh'), [
    '#!/bin/sh',
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root',
    'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /run; mount -t tmpfs tmp /tmp',
    `mount -t hostfs none ${dir} -o ${dir}`,
    `for m in ${spec.modules.join(' ')}; do modprobe -d ${dir}/mod $m; done`,
    'mkdir -p /run/netns',
    // IPVS refuses an IPv4 real server whose address type it cannot look up: no local table until lo is up.
    'ip link set lo up',
    `cd ${REPO_ROOT}`,
    `${process.execPath} ${spec.check} ${dir}/found.json ${(spec.args?.(dir) ?? []).join(' ')} > ${dir}/inner.log 2>&1`,
    'poweroff -f',
    '',
  ].join('\n'), { mode: 0o755 });
  // linux.uml always exits 0: the result file says whether the check ran.
  spawnSync('linux.uml', [`mem=${spec.memMB}M`, 'rootfstype=hostfs', 'rootflags=/', 'ro', `init=${dir}/init.sh`, 'con0=fd:0,fd:1', 'con=null', 'quiet'], {
    stdio: 'ignore',
    timeout: spec.timeoutMs,
  });
  const log = (name: string, tail?: number): string => {
    const p = join(dir, name);
    if (!existsSync(p)) return `(no ${name})`;
    const text = readFileSync(p, 'utf8');
    return tail === undefined ? text : text.slice(-tail);
  };
  return {
    dir,
    log,
    found() {
      if (!existsSync(join(dir, 'found.json'))) throw new Error(`the check inside UML wrote nothing:\n${log('inner.log')}`);
      return JSON.parse(readFileSync(join(dir, 'found.json'), 'utf8'));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

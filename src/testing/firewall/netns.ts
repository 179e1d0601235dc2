// Network-namespace helpers for kernel tests: every name carries the caller's prefix, and `destroyAll`
// removes whatever a test created even after a failure.
import { writeFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execHost, execInNetns, type Exec } from '../../dataplane/exec.js';
import { parseSave } from '../../dataplane/iptables/save.js';
import { parseIpsetSave } from '../../dataplane/ipset/ipset.js';
import { isOurChain, isOurSet } from '../../controllers/firewall/compile/names.js';

export async function sh(cmd: string): Promise<string> {
  return (await execHost('sh', ['-c', cmd])).stdout;
}

export class Netns {
  private readonly created: string[] = [];
  constructor(readonly prefix: string) {}

  async add(suffix: string): Promise<string> {
    const name = `${this.prefix}${suffix}`;
    await execHost('ip', ['netns', 'del', name], { okCodes: [1, 255] }).catch(() => undefined);
    await execHost('ip', ['netns', 'add', name]);
    this.created.push(name);
    await execHost('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  exec(name: string): Exec {
    return execInNetns(name);
  }

  async destroyAll(): Promise<void> {
    for (const n of this.created.reverse()) {
      await execHost('ip', ['netns', 'pids', n], { okCodes: [1, 255] })
        .then(async ({ stdout }) => {
          for (const pid of stdout.split('\n').filter(Boolean)) await execHost('kill', ['-9', pid], { okCodes: [1] }).catch(() => undefined);
        })
        .catch(() => undefined);
      await execHost('ip', ['netns', 'del', n], { okCodes: [1, 255] }).catch(() => undefined);
    }
    this.created.length = 0;
  }
}

/** Our chains as the kernel holds them (iptables-save of one backend). */
export async function kernelChains(exec: Exec, backend: 'nft' | 'legacy', family: 4 | 6 = 4): Promise<Map<string, string[]>> {
  const bin = `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}-save`;
  const filter = parseSave((await exec(bin, ['-t', 'filter'])).stdout).get('filter');
  const out = new Map<string, string[]>();
  for (const [name, c] of filter?.chains ?? []) if (isOurChain(name) || ['INPUT', 'FORWARD', 'OUTPUT'].includes(name) || name.startsWith('FOREIGN')) out.set(name, c.rules);
  return out;
}

export async function kernelSets(exec: Exec): Promise<Map<string, string[]>> {
  const sets = parseIpsetSave((await exec('ipset', ['save'])).stdout, isOurSet);
  return new Map([...sets].map(([n, s]) => [n, [...s.entries].sort()]));
}

/** A wrapper binary that fails while `flag` exists, else runs the real one: an injectable restore failure. */
export function failingWrapper(real: string): { path: string; flag: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'krt-np-wrap-'));
  const path = join(dir, `wrap-${real}`);
  const flag = join(dir, 'fail');
  writeFileSync(path, `#!/bin/sh\nif [ -e ${flag} ]; then cat >/dev/null; echo "injected failure" >&2; exit 4; fi\nexec ${real} "$@"\n`);
  chmodSync(path, 0o755);
  return { path, flag, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

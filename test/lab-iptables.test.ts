// The lab's per-lab iptables alternatives: a bin dir whose `iptables*` run the chosen backend, as
// /etc/alternatives does on a host, and the checks that refuse a backend that cannot work.
import { execFile } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseIptables, hostIptablesBackend, IPTABLES_TOOLS, labPath, makeIptablesBin, variantName } from '../src/lab/iptables.js';

const pexec = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('lab iptables backend', () => {
  it('names the backend variants as Debian does', () => {
    expect(IPTABLES_TOOLS.map((t) => variantName(t, 'legacy'))).toEqual([
      'iptables-legacy', 'iptables-legacy-save', 'iptables-legacy-restore', 'ip6tables-legacy', 'ip6tables-legacy-save', 'ip6tables-legacy-restore',
    ]);
    expect(variantName('ip6tables-restore', 'nft')).toBe('ip6tables-nft-restore');
  });

  for (const backend of ['nft', 'legacy'] as const) {
    it(`a bin dir for ${backend}: every tool is that backend's (version strings, through PATH)`, async () => {
      const dir = makeIptablesBin(join(mkdtempSync(join(tmpdir(), 'krlab-ipt-')), 'bin'), backend);
      dirs.push(join(dir, '..'));
      for (const tool of IPTABLES_TOOLS) expect(readlinkSync(join(dir, tool))).toMatch(new RegExp(`/${variantName(tool, backend)}$`));
      const env = { ...process.env, PATH: labPath(dir) };
      const mark = backend === 'nft' ? 'nf_tables' : 'legacy';
      // -V reads nothing from the kernel: safe in the host namespace.
      for (const tool of ['iptables', 'ip6tables', 'iptables-save', 'iptables-restore']) {
        const r = await pexec(tool, ['-V'], { env });
        expect(`${tool}: ${r.stdout}${r.stderr}`).toContain(mark);
      }
    });
  }

  it('defaults to the host backend, and refuses nft under user-mode Linux', async () => {
    const host = await hostIptablesBackend();
    expect(host === 'nft' || host === 'legacy').toBe(true);
    expect((await chooseIptables('host', 'host')).backend).toBe(host);
    expect((await chooseIptables(undefined, 'host')).backend).toBe(host);
    expect((await chooseIptables('legacy', 'host')).backend).toBe('legacy');
    expect((await chooseIptables('host', 'uml')).backend).toBe('legacy');
    await expect(chooseIptables('nft', 'uml')).rejects.toThrow(/no nf_tables/);
  });

  it('puts the bin dir first in PATH exactly once', () => {
    expect(labPath('/x/bin', '/usr/sbin:/x/bin:/usr/bin')).toBe('/x/bin:/usr/sbin:/usr/bin');
    expect(labPath(undefined, '/usr/bin')).toBe('/usr/bin');
  });
});

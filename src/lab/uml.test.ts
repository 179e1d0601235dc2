import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPathsToRemount, legacyAlternatives } from './uml.js';

describe('hostPathsToRemount', () => {
  it('mounts back what the tmpfs over /tmp and /run hides, once, outermost first', () => {
    expect(hostPathsToRemount(['/tmp/fresh', '/tmp/fresh/dist/lab', '/usr/bin', '/run/x', '/tmp', '/tmpfoo/a'])).toEqual(['/run/x', '/tmp/fresh']);
  });
  it('leaves a checkout outside /tmp and /run alone', () => {
    expect(hostPathsToRemount(['/work/main', '/work/main/src/lab'])).toEqual([]);
  });
});

describe('legacyAlternatives', () => {
  it('copies every alternative and points the six iptables names at the legacy binaries', () => {
    const root = mkdtempSync(join(tmpdir(), 'krt-alt-'));
    try {
      const from = join(root, 'etc');
      mkdirSync(from);
      symlinkSync('/usr/bin/mawk', join(from, 'awk'));
      symlinkSync('/usr/sbin/iptables-nft', join(from, 'iptables'));
      symlinkSync('/usr/sbin/ip6tables-nft-save', join(from, 'ip6tables-save'));
      writeFileSync(join(from, 'README'), 'x');
      const dir = join(root, 'alt');
      legacyAlternatives(dir, from);
      expect(readlinkSync(join(dir, 'awk'))).toBe('/usr/bin/mawk');
      expect(readlinkSync(join(dir, 'iptables'))).toBe('/usr/sbin/iptables-legacy');
      expect(readlinkSync(join(dir, 'ip6tables-save'))).toBe('/usr/sbin/ip6tables-legacy-save');
      expect(readlinkSync(join(dir, 'iptables-restore'))).toBe('/usr/sbin/iptables-legacy-restore');
      expect(readFileSync(join(dir, 'README'), 'utf8')).toBe('x');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

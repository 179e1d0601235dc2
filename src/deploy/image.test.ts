// The Dockerfile cannot be built here (no Docker engine); what can be checked without one is checked:
// the base images, the packages the agent needs, that every COPY source exists, that the paths the
// manifests run are the ones the image puts its scripts at, and that the addon compile line works.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './generate.js';

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
// Instructions with their continuation lines joined.
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });

describe('Dockerfile', () => {
  it('builds on Node 20 bookworm images', () => {
    expect(instructions.filter((i) => i.op === 'FROM').map((i) => i.args)).toEqual(['node:20-bookworm AS build', 'node:20-bookworm-slim']);
  });

  it('installs both iptables backends, ipset, ipvsadm, iproute2, conntrack and the CNI plugins', () => {
    const apt = instructions.find((i) => i.op === 'RUN' && i.args.includes('apt-get install'))!.args;
    for (const pkg of ['iptables', 'ipset', 'ipvsadm', 'iproute2', 'conntrack', 'containernetworking-plugins']) {
      expect(apt.split(/\s+/), pkg).toContain(pkg);
    }
  });

  // The firewall addon dlopens these at run time (nf_ctx.c); without them the native backend has only the
  // nft binary, and the ipset session falls back to spawning ipset. Debian bookworm's package for each.
  const DLOPEN_PACKAGES: Record<string, string> = { 'libnftables.so.1': 'libnftables1', 'libipset.so.13': 'libipset13' };

  it('installs the libraries the netfilter addon dlopens and the nft binary (--use-nftables-for-netpol)', () => {
    const apt = instructions.find((i) => i.op === 'RUN' && i.args.includes('apt-get install'))!.args.split(/\s+/);
    const source = readFileSync(join(ROOT, 'src/dataplane/netfilter/native/nf_ctx.c'), 'utf8');
    const opened = [...source.matchAll(/dlopen\("([^"]+)"/g)].map((m) => m[1]!).sort();
    expect(opened).toEqual(Object.keys(DLOPEN_PACKAGES).sort());
    for (const lib of opened) expect(apt, lib).toContain(DLOPEN_PACKAGES[lib]);
    expect(apt).toContain('nftables');
  });

  const hasDpkg = (() => {
    try {
      execFileSync('dpkg-query', ['--version'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  })();
  // This machine kind is Debian 12 like the runtime image: the package that ships each library here is its name there.
  it.skipIf(!hasDpkg)('those packages are the ones that ship the libraries (dpkg -S on this Debian host)', () => {
    for (const [lib, pkg] of Object.entries(DLOPEN_PACKAGES)) {
      let owner = '';
      try {
        owner = execFileSync('dpkg-query', ['-S', `*/${lib}`], { stdio: 'pipe', encoding: 'utf8' });
      } catch {
        continue; // not installed on this host: nothing to compare
      }
      expect(owner.split('\n').filter(Boolean).map((l) => l.split(':')[0]), lib).toContain(pkg);
    }
    const nft = (() => {
      try {
        return execFileSync('dpkg-query', ['-S', '/usr/sbin/nft'], { stdio: 'pipe', encoding: 'utf8' });
      } catch {
        return undefined;
      }
    })();
    if (nft !== undefined) expect(nft.split(':')[0]).toBe('nftables');
  });

  it('copies only files that exist (from the build context or the build stage)', () => {
    const sources = instructions
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(4);
    for (const s of sources) expect(existsSync(join(ROOT, s)), s).toBe(true);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
    for (const s of sources) expect(ignored, s).not.toContain(s);
  });

  it('puts the scripts where the manifests and the chart run them', () => {
    const copies = new Map(
      instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).map((i) => i.args.split(/\s+/)).map((a) => [a[a.length - 1]!, a[0]!]),
    );
    const entry = JSON.parse(instructions.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(copies.get(entry[0]!)).toBe('deploy/image/entrypoint.sh');
    expect(entry.slice(1)).toEqual(['node', '/opt/kube-router-ts/dist/cli/main.js']);
    const commands = new Set<string>();
    for (const f of readdirSync(join(ROOT, 'deploy')).filter((n) => n.endsWith('.yaml'))) {
      for (const d of parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8'))) {
        const o = d.toJS();
        for (const c of o?.spec?.template?.spec?.initContainers ?? []) commands.add(c.command[0]);
        for (const c of o?.spec?.template?.spec?.containers ?? []) expect(c.command, `${f}: keep the image's entrypoint`).toBeUndefined();
      }
    }
    const chart = readFileSync(join(ROOT, 'deploy/chart/kube-router-ts/templates/daemonset.yaml'), 'utf8');
    for (const m of chart.matchAll(/command: \[([^\]]+)\]/g)) commands.add(m[1]!);
    expect([...commands]).toEqual(['/usr/local/bin/kube-router-install-cni']);
    expect(copies.get('/usr/local/bin/kube-router-install-cni')).toBe('deploy/image/install-cni.sh');
  });

  const hasCc = (() => {
    try {
      execFileSync('cc', ['--version'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  })();
  // The build stage has gcc (node:20-bookworm); here it needs the C compiler scripts/setup.sh also uses.
  it.skipIf(!hasCc)("the addon compile line builds a loadable addon with this Node's headers", () => {
    const run = instructions.find((i) => i.op === 'RUN' && i.args.includes('bgp_sockopt.c'))!.args;
    const cc = /cc (.*?) -o \/src\/bgp_sockopt\.node/.exec(run)![1]!.split(/\s+/);
    const include = join(dirname(process.execPath), '..', 'include', 'node');
    const dir = mkdtempSync(join(tmpdir(), 'krt-image-'));
    try {
      const args = cc.map((a) => (a === '-I/usr/local/include/node' ? `-I${include}` : a === 'src/bgp/native/bgp_sockopt.c' ? join(ROOT, a) : a));
      execFileSync('cc', [...args, '-o', join(dir, 'a.node')], { stdio: 'pipe' });
      const addon = (process as unknown as { dlopen(m: { exports: unknown }, p: string): void });
      const mod = { exports: {} as Record<string, unknown> };
      addon.dlopen(mod, join(dir, 'a.node'));
      expect(typeof mod.exports.setMd5).toBe('function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

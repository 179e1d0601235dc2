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

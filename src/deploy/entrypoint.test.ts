// The image's shell scripts run on their own, with stand-ins for iptables-*-save and update-alternatives
// in PATH: which backend the entrypoint picks, and what the CNI init container installs or keeps.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRYPOINT = join(ROOT, 'deploy/image/entrypoint.sh');
const INSTALL_CNI = join(ROOT, 'deploy/image/install-cni.sh');

let dir: string;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function exe(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** Fake save commands: each backend prints the given rules text (any table), mangle prints its own text. */
function fakeHost(rules: { nft?: string; legacy?: string; nftMangle?: string; legacyMangle?: string; nft6?: string }): string {
  dir = mkdtempSync(join(tmpdir(), 'krt-entrypoint-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const backend of ['nft', 'legacy'] as const) {
    const all = rules[backend] ?? '';
    const mangle = (backend === 'nft' ? rules.nftMangle : rules.legacyMangle) ?? '';
    writeFileSync(join(dir, `${backend}.rules`), all);
    writeFileSync(join(dir, `${backend}.mangle`), mangle);
    exe(join(bin, `iptables-${backend}-save`), `if [ "\${1:-}" = -t ]; then cat ${dir}/${backend}.mangle; else cat ${dir}/${backend}.rules; fi`);
    writeFileSync(join(dir, `${backend}6.rules`), backend === 'nft' ? (rules.nft6 ?? '') : '');
    exe(join(bin, `ip6tables-${backend}-save`), `cat ${dir}/${backend}6.rules`);
  }
  exe(join(bin, 'update-alternatives'), `echo "$@" >> ${dir}/alternatives.log`);
  return bin;
}

function entrypoint(bin: string, env: Record<string, string> = {}, args = ['echo', 'agent', 'started']) {
  const r = spawnSync('sh', [ENTRYPOINT, ...args], {
    env: { PATH: `${bin}:/usr/bin:/bin`, ...env },
    encoding: 'utf8',
  });
  const log = existsSync(join(dir, 'alternatives.log')) ? readFileSync(join(dir, 'alternatives.log'), 'utf8') : '';
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, alternatives: log.trim().split('\n').filter(Boolean) };
}

const rules = (n: number) => Array.from({ length: n }, (_, i) => `-A INPUT -s 10.0.0.${i}/32 -j ACCEPT`).join('\n') + '\n';

describe('entrypoint: iptables backend', () => {
  it('follows the backend that holds the host rules, then runs the agent command', () => {
    const bin = fakeHost({ legacy: `*filter\n:INPUT ACCEPT [0:0]\n${rules(5)}COMMIT\n`, nft: rules(2) });
    const r = entrypoint(bin);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('agent started\n');
    expect(r.stderr).toContain('iptables backend legacy: it holds 5 rules, nft holds 2');
    expect(r.alternatives).toEqual(['--set iptables /usr/sbin/iptables-legacy', '--set ip6tables /usr/sbin/ip6tables-legacy']);
  });

  it('counts IPv6 rules too', () => {
    const bin = fakeHost({ legacy: rules(3), nft: rules(1), nft6: rules(4) });
    const r = entrypoint(bin);
    expect(r.stderr).toContain('nft: it holds 5 rules, legacy holds 3');
    expect(r.alternatives[0]).toBe('--set iptables /usr/sbin/iptables-nft');
  });

  it("prefers the kubelet's canary chains over rule counts", () => {
    const bin = fakeHost({ nft: rules(50), legacyMangle: '*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n' });
    const r = entrypoint(bin);
    expect(r.stderr).toContain('legacy: the kubelet');
    expect(r.alternatives).toContain('--set ip6tables /usr/sbin/ip6tables-legacy');
  });

  it('defaults to nft on an empty host and obeys KUBE_ROUTER_IPTABLES_MODE', () => {
    const bin = fakeHost({ legacy: rules(9) });
    expect(entrypoint(bin, { KUBE_ROUTER_IPTABLES_MODE: 'nft' }).alternatives[0]).toBe('--set iptables /usr/sbin/iptables-nft');
    rmSync(join(dir, 'alternatives.log'));
    writeFileSync(join(dir, 'legacy.rules'), '');
    const r = entrypoint(bin);
    expect(r.stderr).toContain('nft: no rules in either backend');
    expect(r.alternatives[0]).toBe('--set iptables /usr/sbin/iptables-nft');
  });

  it('refuses an unknown mode without starting the agent', () => {
    const bin = fakeHost({});
    const r = entrypoint(bin, { KUBE_ROUTER_IPTABLES_MODE: 'xtables' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('expected legacy, nft or auto');
    expect(r.alternatives).toEqual([]);
  });
});

describe('install-cni init container', () => {
  function setup() {
    dir = mkdtempSync(join(tmpdir(), 'krt-install-cni-'));
    const src = join(dir, 'src');
    mkdirSync(src);
    for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) exe(join(src, p), `echo image-${p}`);
    writeFileSync(join(dir, 'cni-conf.json'), '{"cniVersion":"0.3.0","name":"kubernetes","plugins":[{"type":"bridge"}]}\n');
    const env = {
      PATH: '/usr/bin:/bin',
      CNI_BIN_DIR: join(dir, 'host/opt/cni/bin'),
      CNI_PLUGIN_SOURCE: src,
      CNI_CONF_SOURCE: join(dir, 'cni-conf.json'),
      KUBE_ROUTER_CNI_CONF_FILE: join(dir, 'host/etc/cni/net.d/10-kuberouter.conflist'),
    };
    const run = () => spawnSync('sh', [INSTALL_CNI], { env, encoding: 'utf8' });
    return { env, run, src };
  }

  it('installs the four plugins and the conflist on a bare node', () => {
    const { env, run } = setup();
    const r = run();
    expect(r.status).toBe(0);
    for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) {
      const f = join(env.CNI_BIN_DIR, p);
      expect(statSync(f).mode & 0o111).not.toBe(0);
      expect(spawnSync(f, { encoding: 'utf8' }).stdout).toBe(`image-${p}\n`);
    }
    expect(JSON.parse(readFileSync(env.KUBE_ROUTER_CNI_CONF_FILE, 'utf8')).plugins[0].type).toBe('bridge');
  });

  it("keeps the node's own plugins and an existing conflist", () => {
    const { env, run } = setup();
    mkdirSync(env.CNI_BIN_DIR, { recursive: true });
    exe(join(env.CNI_BIN_DIR, 'bridge'), 'echo node-bridge');
    mkdirSync(join(dir, 'host/etc/cni/net.d'), { recursive: true });
    writeFileSync(env.KUBE_ROUTER_CNI_CONF_FILE, '{"written":"by the agent"}');
    const r = run();
    expect(r.status).toBe(0);
    expect(spawnSync(join(env.CNI_BIN_DIR, 'bridge'), { encoding: 'utf8' }).stdout).toBe('node-bridge\n');
    expect(existsSync(join(env.CNI_BIN_DIR, 'portmap'))).toBe(true);
    expect(readFileSync(env.KUBE_ROUTER_CNI_CONF_FILE, 'utf8')).toBe('{"written":"by the agent"}');
    expect(r.stderr).toContain('present, kept');
  });

  it('fails when the image lacks a plugin the node also lacks', () => {
    const { run, src } = setup();
    rmSync(join(src, 'portmap'));
    const r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('plugin portmap missing from the image');
  });
});

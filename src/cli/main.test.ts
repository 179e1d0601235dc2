// The command as users run it: a real process, its exit status, stdout and stderr.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FLAG_GROUPS } from './flag-spec.js';
import { renderFlagDocs } from './help.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function kubeRouter(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_NAME: 'krt-cli-test' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kube-router (spawned)', () => {
  it.each([
    [['--iptables-sync-period=5x'], 'kube-router: invalid value "5x" for --iptables-sync-period: expected a duration such as 90s, 5m or 1h30m [KRT_FLAG_INVALID_VALUE]'],
    [['--service-cluster-ip-range', '10.0.0.0/33'], 'kube-router: invalid value "10.0.0.0/33" for --service-cluster-ip-range: expected a CIDR such as 10.96.0.0/12 or fd00:10:96::/112 [KRT_FLAG_INVALID_VALUE]'],
    [['--health-port=65536'], 'kube-router: invalid value "65536" for --health-port: expected a port number from 0 to 65535 [KRT_FLAG_INVALID_VALUE]'],
    [['--metrics-prot=8080'], 'kube-router: unknown flag --metrics-prot (did you mean --metrics-port?) [KRT_FLAG_UNKNOWN]'],
    [['--master'], 'kube-router: flag --master needs a value: expected a string [KRT_FLAG_MISSING_VALUE]'],
    [
      ['--peer-router-ips=10.0.0.1', '--peer-router-asns=65000', '--peer-router-passwords=YQ==', '--peer-router-passwords-file=/etc/pw'],
      'kube-router: conflicting flags: --peer-router-passwords and --peer-router-passwords-file are mutually exclusive [KRT_FLAG_CONFLICT]',
    ],
  ])('%j exits 2 with one line on stderr', (args, line) => {
    const r = kubeRouter(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.stdout).toBe('');
  });

  it('--help prints every group and exits 0', () => {
    const r = kubeRouter('--help');
    expect(r.status).toBe(0);
    for (const g of FLAG_GROUPS) expect(r.stdout).toContain(`\n${g}:\n`);
    expect(r.stderr).toBe('');
  });

  it('-V prints the package version and the node version', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const r = kubeRouter('-V');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`kube-router-ts version ${pkg.version}, node ${process.version}\n`);
  });

  it('docs-flags prints the generated reference', () => {
    const r = kubeRouter('docs-flags');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(renderFlagDocs());
  });

  it('dispatches subcommands before agent flag parsing', () => {
    // The lab's own arguments (even agent flags after --) never reach the agent's parser.
    const r = kubeRouter('lab', '--help', '--', '--run-firewall=false');
    expect(r.stderr).not.toMatch(/unknown flag|unexpected argument|invalid value/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: kube-router lab');
  });

  it('explain has its own help and checks its options before reaching for a cluster', () => {
    const h = kubeRouter('explain', '--help');
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('Usage: kube-router explain');
    expect(h.stdout).toContain('--kernel');
    const r = kubeRouter('explain', 'x/a', 'y/b', '--port', '0', '--kubeconfig', '/nonexistent');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[KRT_EXPLAIN_ENDPOINT]');
  }, 60_000);
});

// The Helm chart rendered by the real helm (v3.17, installed by scripts/install-helm.sh from an npm
// package): schema-valid, the same RBAC as deploy/all.yaml, every flag value reaching the agent's command
// line as the agent parses it, and accepted by kubectl apply --dry-run=server on the project's API server.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { startApiServer, type ApiServerHandle } from '../src/apiserver/index.js';
import type { FlagSpec } from '../src/cli/flag-spec.js';
import { convertValue } from '../src/cli/convert.js';
import { parseAgentArgs } from '../src/cli/parse.js';
import { formatDuration, parseDuration } from '../src/cli/values.js';
import { CHART_DIR, chartFlags, flagValue } from '../src/deploy/generate.js';
import { validateManifests } from '../src/deploy/k8s-schema.js';

const ROOT = resolve(import.meta.dirname, '..');
const CHART = join(ROOT, CHART_DIR);
let dir: string;

function helm(...args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    return { code: 0, stdout: execFileSync('helm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string; code?: string };
    if (err.code === 'ENOENT') throw new Error('helm is not installed: run ./scripts/install-helm.sh (scripts/setup.sh does)');
    return { code: err.status ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function render(values: Record<string, unknown> = {}): { text: string; docs: Record<string, any>[] } {
  const file = join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ apiServer: 'https://10.0.0.10:6443', ...values }));
  const r = helm('template', 'krt', CHART, '--namespace', 'kube-system', '-f', file);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return { text: r.stdout, docs: parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean) };
}

const find = (docs: Record<string, any>[], kind: string, name?: string) => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
const args = (docs: Record<string, any>[]): string[] => find(docs, 'DaemonSet')!.spec.template.spec.containers[0].args;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'krt-chart-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A value other than the default that the flag accepts. */
function otherValue(f: FlagSpec): unknown {
  const ok = (text: string) => {
    try {
      convertValue(f, text);
      return text !== f.default;
    } catch {
      return false;
    }
  };
  const pick = (cands: string[]) => {
    const t = cands.find(ok);
    if (t === undefined) throw new Error(`no other value for --${f.name}`);
    return flagValue(f, t);
  };
  switch (f.type) {
    case 'bool': return f.default !== 'true';
    case 'int': case 'port': { const n = Number(f.default); return pick([n + 1, n - 1, 1, 4200000000, 64512].map(String)); }
    case 'duration': { const ms = parseDuration(f.default)!; return pick([ms + 60_000, ms + 1000, ms - 1000].map(formatDuration)); }
    case 'ip': return pick(['192.0.2.7', '192.0.2.8']);
    case 'cidr': return pick(['10.200.0.0/16']);
    case 'cidr-list': return pick(['10.100.0.0/16']);
    case 'ip-list': return pick(['192.0.2.1,192.0.2.2']);
    case 'string-list': return pick(['c2VjcmV0,b3RoZXI=', 'secret-a,secret-b']);
    case 'int-list': return pick(['64513,64514', '179,1179']);
    case 'port-range': return pick(['31000-32000']);
    case 'enum': return pick([...(f.values ?? [])]);
    case 'string': return pick(['/etc/kube-router/x', 'x', '192.0.2.9', 'unix:///run/containerd/containerd.sock']);
  }
}

describe('helm chart', () => {
  it('passes helm lint', () => {
    const r = helm('lint', CHART, '--set', 'apiServer=https://10.0.0.10:6443');
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('0 chart(s) failed');
  });

  it('renders by default what deploy/all.yaml installs: schema-valid, same RBAC, same agent settings', async () => {
    const { text, docs } = render();
    expect((await validateManifests(text)).problems).toEqual([]);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ClusterRole/kube-router', 'ClusterRoleBinding/kube-router', 'ConfigMap/kube-router-cfg', 'ConfigMap/kube-router-kubeconfig',
      'DaemonSet/kube-router', 'ServiceAccount/kube-router',
    ]);
    const all = parseAllDocuments(readFileSync(join(ROOT, 'deploy/all.yaml'), 'utf8')).map((d) => d.toJS());
    expect(find(docs, 'ClusterRole')!.rules).toEqual(find(all, 'ClusterRole')!.rules);
    const chartConfig = parseAgentArgs(args(docs));
    const allConfig = parseAgentArgs(find(all, 'DaemonSet')!.spec.template.spec.containers[0].args);
    expect(chartConfig).toMatchObject({ kind: 'run' });
    expect(chartConfig.kind === 'run' && chartConfig.config).toEqual(allConfig.kind === 'run' && allConfig.config);
    expect(find(docs, 'ConfigMap', 'kube-router-kubeconfig')!.data.kubeconfig).toContain('server: https://10.0.0.10:6443');
    expect(JSON.parse(find(docs, 'ConfigMap', 'kube-router-cfg')!.data['cni-conf.json'])).toEqual(
      JSON.parse(find(all, 'ConfigMap', 'kube-router-cfg')!.data['cni-conf.json']),
    );
  });

  it('puts every flag value on the command line as the agent reads it', () => {
    const flags = Object.fromEntries(chartFlags().map((f) => [f.name, otherValue(f)]));
    const rendered = args(render({ flags }).docs);
    const expected = chartFlags().map((f) => {
      const v = flags[f.name];
      return `--${f.name}=${Array.isArray(v) ? v.join(',') : String(v)}`;
    });
    expect([...rendered].sort()).toEqual([...expected].sort());
    for (const arg of rendered) {
      const [, name, text] = /^--([^=]+)=(.*)$/.exec(arg)!;
      const spec = chartFlags().find((f) => f.name === name)!;
      expect(convertValue(spec, text!), arg).toEqual(convertValue(spec, Array.isArray(flags[name!]) ? (flags[name!] as unknown[]).join(',') : String(flags[name!])));
    }
    // The liveness probe follows --health-port.
    const probe = render({ flags: { 'health-port': 20300 } }).docs;
    expect(find(probe, 'DaemonSet')!.spec.template.spec.containers[0].livenessProbe.httpGet.port).toBe(20300);
  });

  it('refuses an unknown flag and a missing API server address', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, stringify({ apiServer: 'https://10.0.0.10:6443', flags: { 'run-firewal': false } }));
    const typo = helm('template', 'krt', CHART, '-f', file);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('flags.run-firewal: kube-router-ts has no flag --run-firewal');
    const none = helm('template', 'krt', CHART);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('set apiServer');
  });

  it('firewall-only: no CNI init container or conflist, the router off', async () => {
    const { text, docs } = render({ cni: { install: false }, flags: { 'run-router': false } });
    expect((await validateManifests(text)).problems).toEqual([]);
    const pod = find(docs, 'DaemonSet')!.spec.template.spec;
    expect(pod.initContainers).toBeUndefined();
    expect(find(docs, 'ConfigMap', 'kube-router-cfg')).toBeUndefined();
    expect(args(docs)).toContain('--run-router=false');
  });

  it('mounts a Secret for the BGP passwords file instead of putting passwords in the pod spec', async () => {
    const { text, docs } = render({
      flags: { 'peer-router-ips': ['192.0.2.1'], 'peer-router-asns': [64513], 'peer-router-passwords-file': '/etc/kube-router/bgp/passwords' },
      extraVolumes: [{ name: 'bgp', secret: { secretName: 'kube-router-bgp' } }],
      extraVolumeMounts: [{ name: 'bgp', mountPath: '/etc/kube-router/bgp', readOnly: true }],
    });
    expect((await validateManifests(text)).problems).toEqual([]);
    const pod = find(docs, 'DaemonSet')!.spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'bgp', secret: { secretName: 'kube-router-bgp' } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'bgp', mountPath: '/etc/kube-router/bgp', readOnly: true });
    const out = parseAgentArgs(args(docs));
    expect(out.kind === 'run' && out.config.peerRouterPasswordsFile).toBe('/etc/kube-router/bgp/passwords');
  });

  describe('against the API server', () => {
    let srv: ApiServerHandle;
    let kubeconfig: string;
    const kubectl = (...a: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...a], { timeout: 30_000 }, (err, stdout, stderr) =>
          done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    beforeAll(async () => {
      srv = await startApiServer({ port: 0 });
      kubeconfig = join(dir, 'kubeconfig');
      await srv.writeKubeconfig(kubeconfig);
      if ((await kubectl('get', 'ns', 'kube-system')).code !== 0) await kubectl('create', 'ns', 'kube-system');
    });
    afterAll(async () => {
      await srv?.close();
    });

    it('kubectl apply --dry-run=server accepts the rendered chart', async () => {
      const file = join(dir, 'rendered.yaml');
      writeFileSync(file, render().text);
      const r = await kubectl('apply', '--dry-run=server', '-f', file);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('daemonset.apps/kube-router created (server dry run)');
      expect(r.stdout.trim().split('\n')).toHaveLength(6);
    });
  });
});

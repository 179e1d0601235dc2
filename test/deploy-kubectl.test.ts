// The real kubectl v1.32 applies the shipped manifests to the project's API server: first as
// `--dry-run=server` (what an operator can run before installing), then for real.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../src/apiserver/index.js';

const ROOT = resolve(import.meta.dirname, '..');
let srv: ApiServerHandle;
let dir: string;
let kubeconfig: string;

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'krt-deploy-kubectl-'));
  kubeconfig = join(dir, 'kubeconfig');
  srv = await startApiServer({ port: 0 });
  await srv.writeKubeconfig(kubeconfig);
  const ns = await kubectl('get', 'namespace', 'kube-system');
  if (ns.code !== 0) expect((await kubectl('create', 'namespace', 'kube-system')).code).toBe(0);
});
afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ALL_OBJECTS = [
  'serviceaccount/kube-router',
  'clusterrole.rbac.authorization.k8s.io/kube-router',
  'clusterrolebinding.rbac.authorization.k8s.io/kube-router',
  'configmap/kube-router-kubeconfig',
  'configmap/kube-router-cfg',
  'daemonset.apps/kube-router',
];

describe('kubectl apply of deploy/*.yaml', () => {
  for (const file of ['all.yaml', 'firewall-only.yaml', 'proxy-only.yaml', 'advertise-routes.yaml']) {
    it(`--dry-run=server accepts deploy/${file} and stores nothing`, async () => {
      const r = await kubectl('apply', '--dry-run=server', '-f', join(ROOT, 'deploy', file));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const want = file === 'all.yaml' || file === 'advertise-routes.yaml' ? ALL_OBJECTS : ALL_OBJECTS.filter((o) => o !== 'configmap/kube-router-cfg');
      expect(r.stdout.trim().split('\n').sort()).toEqual(want.map((o) => `${o} created (server dry run)`).sort());
      const ds = await kubectl('get', '-n', 'kube-system', 'daemonset', 'kube-router');
      expect(ds.stderr).toContain('not found');
    });
  }

  it('applies deploy/all.yaml for real; a second apply changes nothing', async () => {
    const first = await kubectl('apply', '-f', join(ROOT, 'deploy/all.yaml'));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim().split('\n').sort()).toEqual(ALL_OBJECTS.map((o) => `${o} created`).sort());
    const ds = JSON.parse((await kubectl('get', '-n', 'kube-system', 'ds', 'kube-router', '-o', 'json')).stdout);
    expect(ds.spec.template.spec.containers[0].args).toContain('--run-router=true');
    const again = await kubectl('apply', '-f', join(ROOT, 'deploy/all.yaml'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').sort()).toEqual(ALL_OBJECTS.map((o) => `${o} unchanged`).sort());
    const role = JSON.parse((await kubectl('get', 'clusterrole', 'kube-router', '-o', 'json')).stdout);
    expect(role.rules.flatMap((r: { resources: string[] }) => r.resources).sort()).toEqual(['endpointslices', 'namespaces', 'networkpolicies', 'nodes', 'pods', 'services']);
  });

  it('refuses a DaemonSet whose selector does not match its pod labels', async () => {
    const bad = readFileSync(join(ROOT, 'deploy/all.yaml'), 'utf8').replace(
      '    metadata:\n      labels: { k8s-app: kube-router }\n    spec:\n      serviceAccountName',
      '    metadata:\n      labels: { k8s-app: kube-routr }\n    spec:\n      serviceAccountName',
    );
    expect(bad).toContain('kube-routr');
    writeFileSync(join(dir, 'bad.yaml'), bad);
    const r = await kubectl('apply', '--dry-run=server', '-f', join(dir, 'bad.yaml'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.template.metadata.labels');
  });
});

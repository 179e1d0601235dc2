// The real kubectl v1.32 against the project's API server: apply, get -o json/yaml, label, delete,
// create namespace (a protobuf body), get -w.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYAML } from 'yaml';
import { startApiServer, type ApiServerHandle } from '../src/apiserver/index.js';
import { waitFor } from '../src/testing/wait.js';

let srv: ApiServerHandle;
let dir: string;
let kubeconfig: string;

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const MANIFEST = `
apiVersion: v1
kind: Namespace
metadata:
  name: kc
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kc
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    ports:
    - containerPort: 80
      name: http
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: kc
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-allow
  namespace: kc
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/8
        except: [10.1.0.0/16]
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: kc}
    ports:
    - port: 80
    - port: 8000
      endPort: 8080
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'krt-apiserver-kubectl-'));
  kubeconfig = join(dir, 'kubeconfig');
  srv = await startApiServer({ port: 0 });
  await srv.writeKubeconfig(kubeconfig);
  writeFileSync(join(dir, 'all.yaml'), MANIFEST);
});
afterAll(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kubectl against the apiserver', () => {
  it('applies a manifest, and re-applying leaves pod and service unchanged', async () => {
    const out = await ok('apply', '-f', join(dir, 'all.yaml'));
    expect(out).toContain('namespace/kc created');
    expect(out).toContain('pod/web created');
    expect(out).toContain('service/web created');
    expect(out).toContain('networkpolicy.networking.k8s.io/web-allow created');
    const again = await ok('apply', '-f', join(dir, 'all.yaml'));
    expect(again).toContain('pod/web unchanged');
    expect(again).toContain('service/web unchanged');
  });

  it('prints objects as JSON and YAML with server defaults', async () => {
    const svc = JSON.parse(await ok('get', '-n', 'kc', 'svc', 'web', '-o', 'json'));
    expect(svc.spec.clusterIP).toMatch(/^10\./);
    expect(svc.spec.ports[0]).toMatchObject({ port: 80, protocol: 'TCP', targetPort: 'http' });
    const np = parseYAML(await ok('get', '-n', 'kc', 'netpol', 'web-allow', '-o', 'yaml'));
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress[0].ports[1]).toEqual({ port: 8000, endPort: 8080, protocol: 'TCP' });
    const list = JSON.parse(await ok('get', 'pods', '-A', '-o', 'json'));
    expect(list.items.map((p: { metadata: { name: string } }) => p.metadata.name)).toContain('web');
    const table = await ok('get', '-n', 'kc', 'svc,po');
    expect(table).toMatch(/service\/web\s+ClusterIP\s+10\.\S+\s+<none>\s+80\/TCP/);
    expect(table).toMatch(/pod\/web\s+0\/1\s+Pending/);
  });

  it('labels and selects, then deletes', async () => {
    expect(await ok('label', '-n', 'kc', 'pod', 'web', 'tier=front')).toContain('pod/web labeled');
    const sel = await ok('get', '-n', 'kc', 'pods', '-l', 'tier in (front),app=web', '-o', 'name');
    expect(sel.trim()).toBe('pod/web');
    expect((await ok('get', '-n', 'kc', 'pods', '-l', 'tier!=front', '-o', 'name')).trim()).toBe('');
    expect(await ok('delete', '-n', 'kc', 'pod', 'web')).toContain('pod "web" deleted');
    const gone = await kubectl('get', '-n', 'kc', 'pod', 'web');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('pods "web" not found');
  });

  it('creates a namespace (protobuf request body) and reports validation errors', async () => {
    expect(await ok('create', 'namespace', 'made-by-kubectl')).toContain('namespace/made-by-kubectl created');
    const ns = JSON.parse(await ok('get', 'ns', 'made-by-kubectl', '-o', 'json'));
    expect(ns.metadata.labels['kubernetes.io/metadata.name']).toBe('made-by-kubectl');
    const dup = await kubectl('create', 'namespace', 'made-by-kubectl');
    expect(dup.stderr).toContain('AlreadyExists');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, MANIFEST.split('---')[3]!.replace('10.1.0.0/16', '192.168.0.0/16').replace('web-allow', 'bad'));
    const r = await kubectl('apply', '-f', bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('must be a strict subset of `cidr`');
  });

  it('get -w prints a change as it happens', async () => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'pods', '-n', 'kc', '-w', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      await ok('run', 'watched', '-n', 'kc', '--image=busybox:1.36', '--labels=app=w');
      await waitFor('kubectl -w output', () => /ADDED\s+watched/.test(out), 10_000, 20);
      await ok('label', '-n', 'kc', 'pod', 'watched', 'x=y');
      await waitFor('kubectl -w MODIFIED', () => /MODIFIED\s+watched/.test(out), 10_000, 20);
    } finally {
      child.kill('SIGTERM');
    }
    expect(out).toMatch(/EVENT\s+NAME\s+READY\s+STATUS/);
  });
});

describe('kubectl with a token', () => {
  it('is refused without the token and served over TLS with it', async () => {
    const s = await startApiServer({ port: 0, token: 'kubectl-secret', tls: true });
    const kc = join(dir, 'kc-tls');
    try {
      await s.writeKubeconfig(kc);
      const run = (file: string, ...args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
          execFile('kubectl', ['--kubeconfig', file, '--cache-dir', join(dir, 'cache-tls'), ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? 1 : 0, stdout, stderr }),
          ),
        );
      const good = await run(kc, 'get', 'ns', 'default', '-o', 'name');
      expect(good.stderr).toBe('');
      expect(good.stdout.trim()).toBe('namespace/default');
      const noToken = join(dir, 'kc-notoken');
      writeFileSync(noToken, readFileSync(kc, 'utf8').replace('token: kubectl-secret', 'token: wrong'));
      const bad = await run(noToken, 'get', 'ns');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/Unauthorized|provide credentials/);
    } finally {
      await s.close();
    }
  });
});

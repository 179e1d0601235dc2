import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeConfigError, loadKubeConfig } from './kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'krt-watch-kc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfigFile(path: string, server: string): string {
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c1, cluster: {server: "' + server + '"}}]',
      'users: [{name: u1, user: {token: abc}}]',
      'contexts: [{name: ctx, context: {cluster: c1, user: u1}}]',
      'current-context: ctx',
    ].join('\n'),
  );
  return path;
}

const noEnv = {};
const emptyHome = join(dir, 'nohome');

describe('loadKubeConfig', () => {
  it('uses --kubeconfig first, and --master overrides its server', () => {
    const file = kubeconfigFile(join(dir, 'a.yaml'), 'https://10.0.0.1:6443');
    const kc = loadKubeConfig({ kubeconfig: file, env: { KUBERNETES_SERVICE_HOST: '1.2.3.4', KUBERNETES_SERVICE_PORT: '443' } });
    expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    expect(kc.getCurrentUser()?.token).toBe('abc');
    const over = loadKubeConfig({ kubeconfig: file, master: 'http://127.0.0.1:8080' });
    expect(over.getCurrentCluster()).toMatchObject({ server: 'http://127.0.0.1:8080', skipTLSVerify: true });
    expect(over.getCurrentUser()?.token).toBe('abc');
  });

  it('uses --master alone', () => {
    const kc = loadKubeConfig({ master: 'https://api.example:6443', env: noEnv, home: emptyHome });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://api.example:6443', skipTLSVerify: false });
  });

  it('uses the in-cluster service account when KUBERNETES_SERVICE_HOST is set', () => {
    const token = join(dir, 'token');
    writeFileSync(token, 't');
    const kc = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      home: emptyHome,
      serviceAccountTokenPath: token,
    });
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
    expect(() =>
      loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountTokenPath: join(dir, 'none') }),
    ).toThrow(/service account token .* is missing/);
  });

  it('falls back to ~/.kube/config', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    kubeconfigFile(join(home, '.kube', 'config'), 'https://192.168.0.1:6443');
    expect(loadKubeConfig({ env: noEnv, home }).getCurrentCluster()?.server).toBe('https://192.168.0.1:6443');
  });

  it('fails clearly when nothing is configured or input is bad', () => {
    expect(() => loadKubeConfig({ env: noEnv, home: emptyHome })).toThrow(KubeConfigError);
    expect(() => loadKubeConfig({ env: noEnv, home: emptyHome })).toThrow(/--kubeconfig <file> or --master <url>/);
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'missing.yaml') })).toThrow(/missing\.yaml: file does not exist/);
    writeFileSync(join(dir, 'garbage.yaml'), 'clusters: 5\n');
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'garbage.yaml') })).toThrow(KubeConfigError);
    expect(() => loadKubeConfig({ master: 'not a url' })).toThrow(/is not a URL/);
    expect(() => loadKubeConfig({ master: 'ftp://x' })).toThrow(/must use http or https/);
  });
});

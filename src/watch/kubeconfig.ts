import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KrtError } from '../observe/errors.js';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  /** --kubeconfig: path to a kubeconfig file. */
  readonly kubeconfig?: string;
  /** --master: API server URL; overrides the kubeconfig's server when both are given (as client-go does). */
  readonly master?: string;
  /** For tests: environment and home directory to consult instead of the process's. */
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  readonly serviceAccountTokenPath?: string;
}

export class KubeConfigError extends KrtError {
  override readonly name = 'KubeConfigError';
  constructor(message: string) {
    super('KRT_KUBECONFIG', message);
  }
}

function checkMaster(master: string): URL {
  let url: URL;
  try {
    url = new URL(master);
  } catch {
    throw new KubeConfigError(`--master ${JSON.stringify(master)} is not a URL (expected e.g. https://10.0.0.1:6443)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KubeConfigError(`--master ${JSON.stringify(master)} must use http or https`);
  }
  return url;
}

function loadFile(kc: KubeConfig, path: string, flag: string): void {
  if (!existsSync(path)) throw new KubeConfigError(`${flag} ${path}: file does not exist`);
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new KubeConfigError(`${flag} ${path}: cannot load kubeconfig: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError(`${flag} ${path}: no current context/cluster in kubeconfig`);
}

/**
 * Finds API server credentials the way kube-router does: --kubeconfig, else --master, else the in-cluster
 * service account, else ~/.kube/config. Throws KubeConfigError naming every source it tried.
 */
export function loadKubeConfig(src: KubeConfigSource = {}): KubeConfig {
  const env = src.env ?? process.env;
  const kc = new KubeConfig();
  if (src.master) checkMaster(src.master);

  if (src.kubeconfig) {
    loadFile(kc, src.kubeconfig, '--kubeconfig');
    if (src.master) {
      const cur = kc.getCurrentCluster()!;
      const clusters = kc.clusters.map((c) => (c.name === cur.name ? { ...c, server: src.master! } : c));
      kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    }
    return allowPlainHTTP(kc);
  }
  if (src.master) {
    kc.loadFromClusterAndUser({ name: 'master', server: src.master, skipTLSVerify: false }, { name: 'master-user' });
    return allowPlainHTTP(kc);
  }
  if (env['KUBERNETES_SERVICE_HOST'] && env['KUBERNETES_SERVICE_PORT']) {
    const tokenPath = src.serviceAccountTokenPath ?? SERVICE_ACCOUNT_TOKEN;
    if (!existsSync(tokenPath)) {
      throw new KubeConfigError(
        `in-cluster configuration: KUBERNETES_SERVICE_HOST is set but the service account token ${tokenPath} is missing`,
      );
    }
    // loadFromCluster reads the same environment variables; mirror ours into it when tests inject env.
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    process.env['KUBERNETES_SERVICE_HOST'] = env['KUBERNETES_SERVICE_HOST'];
    process.env['KUBERNETES_SERVICE_PORT'] = env['KUBERNETES_SERVICE_PORT'];
    try {
      kc.loadFromCluster();
    } finally {
      restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
      restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
    }
    return kc;
  }
  const home = src.home ?? homedir();
  const fallback = join(home, '.kube', 'config');
  if (existsSync(fallback)) {
    loadFile(kc, fallback, 'kubeconfig');
    return allowPlainHTTP(kc);
  }
  throw new KubeConfigError(
    `no Kubernetes API configuration: pass --kubeconfig <file> or --master <url>, run in a pod ` +
      `(KUBERNETES_SERVICE_HOST/PORT and a service account), or create ${fallback}`,
  );
}

/**
 * client-node 1.4 refuses http:// servers unless skipTLSVerify is set, although there is no TLS to verify.
 * An http:// server (the lab API server, kubectl proxy) is a deliberate choice, so mark those clusters.
 */
function allowPlainHTTP(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http://') && !c.skipTLSVerify)) return kc;
  const clusters = kc.clusters.map((c) => (c.server.startsWith('http://') ? { ...c, skipTLSVerify: true } : c));
  kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  return kc;
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

// A kubeconfig for kubectl and @kubernetes/client-node pointing at this server (plain http).
import { promises as fs } from 'node:fs';
import { stringify } from 'yaml';

export function kubeconfigText(server: string, token?: string, caCert?: string, name = 'kube-router-ts'): string {
  const cluster: Record<string, unknown> = { server };
  // client-node refuses http:// servers unless TLS verification is explicitly off; kubectl ignores it.
  if (server.startsWith('http://')) cluster['insecure-skip-tls-verify'] = true;
  else if (caCert) cluster['certificate-authority-data'] = Buffer.from(caCert).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster }],
    users: [{ name, user: token ? { token } : {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

export async function writeKubeconfigFile(path: string, server: string, token?: string, caCert?: string): Promise<void> {
  // Written whole then renamed, so a process polling for the file never reads half of it.
  const tmp = `${path}.tmp-${process.pid}`;
  await fs.writeFile(tmp, kubeconfigText(server, token, caCert), { mode: 0o600 });
  await fs.rename(tmp, path);
}

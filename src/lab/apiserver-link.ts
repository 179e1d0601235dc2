// How the lab starts the project's API server and lets node namespaces reach it. The API server listens
// on 127.0.0.1 for the host's kubectl; the lab adds a unix socket that forwards to it, because unix
// sockets cross network namespaces and TCP does not: a socat in each node namespace turns
// 127.0.0.1:6443 there into that socket, so an agent's kubeconfig reads like any node's.
import { rmSync } from 'node:fs';
import net from 'node:net';

export interface ApiServerHandle {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  writeKubeconfig(path: string): Promise<void> | void;
}

interface StartOpts {
  host?: string;
  port?: number;
  unixSocket?: string;
  token?: string;
  serviceCIDR?: string;
  dataFile?: string;
  log?: (msg: string, obj?: object) => void;
}

export async function startProjectApiServer(opts: StartOpts): Promise<ApiServerHandle> {
  const { startApiServer } = await import('../apiserver/index.js');
  return startApiServer(opts);
}

/** A unix socket that forwards every connection to host:port. */
export function unixToTcp(socketPath: string, host: string, port: number): Promise<net.Server> {
  rmSync(socketPath, { force: true });
  const srv = net.createServer((c) => {
    const up = net.connect({ host, port });
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.pipe(up).pipe(c);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(socketPath, () => resolve(srv));
  });
}

export function kubeconfigYaml(server: string, token: string | undefined, name = 'kube-router-lab'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    // @kubernetes/client-node refuses plain http unless TLS verification is explicitly off.
    ...(server.startsWith('http://') ? ['    insecure-skip-tls-verify: true'] : []),
    'users:',
    `- name: ${name}`,
    '  user:',
    token ? `    token: ${token}` : '    {}',
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    '    namespace: default',
    `current-context: ${name}`,
    '',
  ].join('\n');
}

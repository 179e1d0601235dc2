// `kube-router apiserver`: runs the server in the foreground until SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from 'commander';
import { startApiServer } from './server.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

export function apiserverCommand(): Command {
  return new Command('apiserver')
    .description('run a small Kubernetes-API-compatible server (for the lab and tests)')
    .option('--bind-address <ip>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 picks a free one)', parsePort, 6443)
    .option('--unix-socket <path>', 'also listen on this unix socket')
    .option('--token <token>', 'require this bearer token')
    .option('--service-cluster-ip-range <cidrs>', 'ClusterIP range(s), comma separated for dual-stack', '10.96.0.0/12')
    .option('--service-node-port-range <range>', 'NodePort range', '30000-32767')
    .option('--data-file <path>', 'keep objects in this JSON file across restarts')
    .option('--kubeconfig-out <path>', 'write a kubeconfig for this server here')
    .option('--tls', 'serve HTTPS with a self-signed certificate (needed for kubectl to send --token)')
    .option('--tls-cert-file <path>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-private-key-file <path>', 'private key for --tls-cert-file (PEM)')
    .option('--watch-history <n>', 'watch events kept per resource', (v) => Number(v), 10000)
    .action(async (o: Record<string, string | number | undefined>) => {
      const log = (msg: string, obj?: object) => process.stderr.write(`${msg}${obj ? ' ' + JSON.stringify(obj) : ''}\n`);
      const srv = await startApiServer({
        host: o.bindAddress as string,
        port: o.port as number,
        unixSocket: o.unixSocket as string | undefined,
        token: o.token as string | undefined,
        serviceCIDR: o.serviceClusterIpRange as string,
        nodePortRange: o.serviceNodePortRange as string,
        dataFile: o.dataFile as string | undefined,
        watchHistory: o.watchHistory as number,
        tls: o.tlsCertFile && o.tlsPrivateKeyFile
          ? { certFile: o.tlsCertFile as string, keyFile: o.tlsPrivateKeyFile as string }
          : Boolean(o.tls),
        log,
      });
      if (o.kubeconfigOut) await srv.writeKubeconfig(o.kubeconfigOut as string);
      process.stdout.write(
        `apiserver listening on ${srv.url}${o.unixSocket ? ` and unix:${o.unixSocket}` : ''}${o.kubeconfigOut ? `; kubeconfig ${o.kubeconfigOut}` : ''}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await srv.close();
    });
}

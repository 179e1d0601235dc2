// `kube-router apiserver`: runs the server in the foreground until SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from 'commander';
import { startApiServer } from './server.js';
import { parseDuration } from '../cli/values.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

/** Go duration ("90s", "5m") or plain seconds, as kube-apiserver's flags take them; in ms. */
function parseDurationFlag(v: string): number {
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : parseDuration(v);
  if (ms === undefined || ms < 0) throw new InvalidArgumentError('must be a duration such as 90s or 5m (or seconds)');
  return ms;
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
    .option('--bookmark-interval <duration>', 'BOOKMARK event interval on watches that allow them', parseDurationFlag, 60_000)
    .option('--compaction-interval <duration>', 'compact the watch history every interval (0: only --watch-history bounds it)', parseDurationFlag, 0)
    .option('--min-request-timeout <duration>', 'a watch without timeoutSeconds ends after [this, 2x this] (0: never)', parseDurationFlag, 1_800_000)
    .option('--expired-watch <how>', 'refuse a watch from an expired resourceVersion with an ERROR "event" or "http" 410', (v) => {
      if (v !== 'event' && v !== 'http') throw new InvalidArgumentError('must be event or http');
      return v;
    }, 'event')
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
        bookmarkIntervalMs: o.bookmarkInterval as number,
        compactionIntervalMs: o.compactionInterval as number,
        minRequestTimeoutMs: o.minRequestTimeout as number,
        expiredWatch: o.expiredWatch as 'event' | 'http',
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

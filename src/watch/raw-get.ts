// A GET of one API path returning the parsed JSON, authenticated by client-node's KubeConfig exactly as its
// Watch is (applyToHTTPSOptions: the cluster's CA, client certificates, tokens and exec plugins, proxies),
// but without the generated API classes: the informers list plain JSON (as their watch events are) and the
// agent never loads or runs client-node's model registry (~2 MB of the bundle, a deserialize per object).
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KrtError } from '../observe/errors.js';

/** A non-2xx or unreadable answer: `statusCode` (0 for bad JSON) as client-node's errors carry it. */
export class ApiListError extends KrtError {
  override readonly name = 'ApiListError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super('KRT_API_LIST', message);
  }
}

const TIMEOUT_MS = 60_000;

export async function getJSON(kc: KubeConfig, path: string, query: Readonly<Record<string, string | number>> = {}): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          let message = text.slice(0, 200);
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // not a Status object
          }
          reject(new ApiListError(code, `GET ${path}: HTTP ${code}${message ? `: ${message}` : ''}`));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new ApiListError(0, `GET ${path}: invalid JSON (${(e as Error).message})`));
        }
      });
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`GET ${path}: no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

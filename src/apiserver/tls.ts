// Optional HTTPS. kubectl (client-go) never sends a bearer token over plain http, so a token-protected
// server needs TLS for kubectl. Without given files we make a self-signed certificate with openssl (Node
// cannot create X.509 certificates) that is also its own CA; the kubeconfig embeds it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export function loadOrCreateTls(opts: { certFile?: string; keyFile?: string; hosts: string[] }): TlsMaterial {
  if (opts.certFile && opts.keyFile) return { cert: readFileSync(opts.certFile, 'utf8'), key: readFileSync(opts.keyFile, 'utf8') };
  const dir = mkdtempSync(join(tmpdir(), 'krt-apiserver-tls-'));
  try {
    const names = new Set(['IP:127.0.0.1', 'IP:::1', 'DNS:localhost']);
    for (const h of opts.hosts) if (h && h !== '0.0.0.0' && h !== '::') names.add(isIP(h) ? `IP:${h}` : `DNS:${h}`);
    const ext = join(dir, 'ext.cnf');
    writeFileSync(
      ext,
      [
        '[req]',
        'distinguished_name=dn',
        'x509_extensions=v3',
        'prompt=no',
        '[dn]',
        'CN=kube-router-ts-apiserver',
        '[v3]',
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${[...names].join(',')}`,
        '',
      ].join('\n'),
    );
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-config', ext, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

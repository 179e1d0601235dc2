import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYAML } from 'yaml';
import { apiserverCommand } from './index.js';
import { request } from '../testing/apiserver.js';
import { waitFor } from '../testing/wait.js';

describe('apiserver command', () => {
  it('serves until SIGTERM, writes the kubeconfig and keeps data in the data file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'krt-apiserver-cli-'));
    const kc = join(dir, 'kubeconfig');
    const data = join(dir, 'data.json');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      const cmd = apiserverCommand();
      const otherListeners = process.listenerCount('SIGTERM');
      expect(cmd.name()).toBe('apiserver');
      const running = cmd.parseAsync(['--port', '0', '--kubeconfig-out', kc, '--data-file', data, '--service-cluster-ip-range', '10.100.0.0/16'], { from: 'user' });
      await waitFor('kubeconfig', () => existsSync(kc), 5000, 20);
      const server = parseYAML(readFileSync(kc, 'utf8')).clusters[0].cluster.server as string;
      expect(out.join('')).toContain(`apiserver listening on ${server}`);
      const svc = await request(server, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 's' }, spec: { ports: [{ port: 53, protocol: 'UDP' }] } });
      expect(svc.body.spec.clusterIP).toMatch(/^10\.100\./);
      // Only the command's own handler may react to this synthetic signal.
      expect(process.listenerCount('SIGTERM')).toBe(otherListeners + 1);
      process.emit('SIGTERM');
      await running;
      expect(JSON.parse(readFileSync(data, 'utf8')).objects['core/services'][0].metadata.name).toBe('s');
      await expect(request(server, 'GET', '/healthz')).rejects.toThrow();
    } finally {
      process.stdout.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

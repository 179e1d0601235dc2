// The ClusterRole of deploy/all.yaml is derived from what the agent does, not from a second list: the real
// agent (runAgent, its real informer-backed cluster store) runs against the project's API server through a
// recording proxy; every request it makes must be allowed by the ClusterRole, and every permission the
// ClusterRole grants must have been used. A source check keeps the Kubernetes client inside src/watch,
// the only place requests can come from (controllers get a ClusterView, not a client).
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runAgent } from '../agent/agent.js';
import { startApiServer, type ApiServerHandle } from '../apiserver/index.js';
import { parseAgentArgs } from '../cli/parse.js';
import { createLogger } from '../observe/logger.js';
import { MemoryLog, sleep } from '../testing/observe.js';
import { ROOT } from './generate.js';
import { allows, grants, requestAttributes, type PolicyRule, type RequestAttributes } from './rbac.js';

let srv: ApiServerHandle;
let proxy: http.Server;
let dir: string;
const seen: { method: string; url: string }[] = [];

beforeAll(async () => {
  srv = await startApiServer({ port: 0 });
  proxy = http.createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/' });
    const up = http.request(new URL(req.url ?? '/', srv.url), { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  dir = mkdtempSync(join(tmpdir(), 'krt-rbac-'));
  const port = (proxy.address() as { port: number }).port;
  writeFileSync(
    join(dir, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]\n` +
      `users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
  );
});
afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function clusterRole(file: string): PolicyRule[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => d.toJS());
  return docs.find((d) => d.kind === 'ClusterRole').rules;
}

const key = (a: RequestAttributes) => `${a.verb} ${a.group || 'core'}/${a.resource}`;

describe('ClusterRole vs the agent', () => {
  let used: RequestAttributes[] = [];

  beforeAll(async () => {
    const out = parseAgentArgs([`--kubeconfig=${join(dir, 'kubeconfig')}`, '--hostname-override=n1', '--health-port=0', '--run-service-proxy=true']);
    if (out.kind !== 'run') throw new Error('no config');
    const abort = new AbortController();
    // No controller factories: every controller runs as a placeholder, so this needs no root; the cluster
    // store, the only code holding a Kubernetes client, is the real one.
    const done = runAgent(out.config, { factories: {}, signal: abort.signal, log: createLogger({ verbosity: 0, destination: new MemoryLog() }) });
    const watches = () => new Set(seen.map((s) => requestAttributes(s.method, s.url)).filter((a) => a?.verb === 'watch').map((a) => a!.resource));
    for (let i = 0; i < 200 && watches().size < 6; i++) await sleep(50);
    await sleep(300);
    abort.abort();
    await done;
    used = seen.map((s) => requestAttributes(s.method, s.url)).filter((a): a is RequestAttributes => a !== undefined);
  }, 30_000);

  it('the agent lists and watches six kinds and writes nothing', () => {
    const distinct = [...new Set(used.map(key))].sort();
    expect(distinct).toEqual([
      'list core/namespaces', 'list core/nodes', 'list core/pods', 'list core/services',
      'list discovery.k8s.io/endpointslices', 'list networking.k8s.io/networkpolicies',
      'watch core/namespaces', 'watch core/nodes', 'watch core/pods', 'watch core/services',
      'watch discovery.k8s.io/endpointslices', 'watch networking.k8s.io/networkpolicies',
    ]);
  });

  for (const file of ['deploy/all.yaml', 'deploy/firewall-only.yaml', 'deploy/proxy-only.yaml', 'deploy/advertise-routes.yaml']) {
    it(`${file}: allows every request the agent made and grants nothing it did not use`, () => {
      const rules = clusterRole(file);
      expect(used.filter((a) => !allows(rules, a)).map(key)).toEqual([]);
      const usedKeys = new Set(used.map(key));
      expect(grants(rules).map(key).filter((g) => !usedKeys.has(g))).toEqual([]);
    });
  }

  it('the checker itself: a missing or extra permission is reported', () => {
    const rules = clusterRole('deploy/all.yaml');
    const noWatch = rules.map((r) => ({ ...r, verbs: r.verbs.filter((v) => !(v === 'watch' && r.apiGroups?.[0] === 'discovery.k8s.io')) }));
    expect(used.filter((a) => !allows(noWatch, a)).map(key)).toContain('watch discovery.k8s.io/endpointslices');
    const extra = [...rules, { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }];
    const usedKeys = new Set(used.map(key));
    expect(grants(extra).map(key).filter((g) => !usedKeys.has(g))).toEqual(['patch core/nodes']);
    expect(requestAttributes('GET', '/apis/apps/v1/namespaces/x/daemonsets/ds?watch=1')).toEqual({ verb: 'watch', group: 'apps', resource: 'daemonsets' });
    expect(requestAttributes('PUT', '/api/v1/namespaces/x/services/s/status')).toEqual({ verb: 'update', group: '', resource: 'services/status' });
    expect(requestAttributes('GET', '/api/v1/nodes/n1')).toEqual({ verb: 'get', group: '', resource: 'nodes' });
    expect(requestAttributes('GET', '/apis')).toBeUndefined();
  });
});

describe('where requests can come from', () => {
  it('only src/watch (besides the API server, lab, deploy tooling and tests) uses the Kubernetes client', () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) files.push(p);
      }
    };
    walk(join(ROOT, 'src'));
    const users = files.filter((f) => /from '@kubernetes\/client-node(\/dist\/[\w.]+)?'/.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    // src/deploy is tooling for these checks (never imported by the agent); apiserver and lab are the test cluster.
    const agentSide = users.filter((f) => !/^src\/(apiserver|lab|deploy)\//.test(f));
    expect(agentSide.sort()).toEqual(['src/watch/cluster-store.ts', 'src/watch/kinds.ts', 'src/watch/kubeconfig.ts', 'src/watch/raw-get.ts']);
    // In src/watch, the lists are GETs of the watch paths (raw-get.ts makes GETs only); the watches go through Watch.
    const rawGet = readFileSync(join(ROOT, 'src/watch/raw-get.ts'), 'utf8');
    expect([...rawGet.matchAll(/method: '(\w+)'/g)].map((m) => m[1])).toEqual(['GET']);
    const kinds = readFileSync(join(ROOT, 'src/watch/kinds.ts'), 'utf8');
    expect([...kinds.matchAll(/spec\('(\w+)', '([^']+)'/g)].length).toBe(6);
    expect(kinds).not.toMatch(/makeApiClient|\.(create|replace|patch|delete)\w*\(/);
  });
});

// The derived deploy files are current, the chart has a value for every flag, and every manifest's agent
// arguments parse with the agent's own parser.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse as parseYAML, parseAllDocuments } from 'yaml';
import { FLAGS } from '../cli/flags.js';
import { parseAgentArgs } from '../cli/parse.js';
import { CHART_DIR, CHART_EXCLUDED_FLAGS, chartFlags, flagValue, generatedFiles, renderValues, ROOT, VARIANTS } from './generate.js';

const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

function daemonSet(file: string) {
  const docs = parseAllDocuments(read(file)).map((d) => d.toJS());
  return { docs, ds: docs.find((d) => d.kind === 'DaemonSet') };
}

describe('generated deploy files', () => {
  it('are what `npm run deploy:generate` writes (run it after changing all.yaml or the flag table)', () => {
    for (const [file, text] of generatedFiles()) expect(read(file), file).toBe(text);
  });

  it('the chart has one value per agent flag, at a value the agent parses', () => {
    const values = parseYAML(read(`${CHART_DIR}/values.yaml`));
    const settable = FLAGS.filter((f) => !('action' in f) && !CHART_EXCLUDED_FLAGS.has(f.name)).map((f) => f.name);
    expect(Object.keys(values.flags).sort()).toEqual([...settable].sort());
    const defaults = parseYAML(read(`${CHART_DIR}/files/flag-defaults.yaml`));
    expect(Object.keys(defaults).sort()).toEqual([...settable].sort());
    for (const f of chartFlags()) {
      expect(defaults[f.name], f.name).toBe(f.default);
      const v = values.flags[f.name];
      const text = Array.isArray(v) ? v.join(',') : String(v);
      expect(() => parseAgentArgs([`--${f.name}=${text}`]), f.name).not.toThrow();
    }
    // Only actions and --cleanup-config (exits; a DaemonSet would restart it forever) are left out.
    expect([...CHART_EXCLUDED_FLAGS].sort()).toEqual(['cleanup-config', 'help', 'version']);
  });

  it('a flag added to the table without regenerating fails the check', () => {
    const current = read(`${CHART_DIR}/values.yaml`);
    expect(renderValues(current)).toBe(current);
    const spec = { name: 'new-flag', group: 'General', type: 'int-list', default: '1,2', help: 'x', implemented: true, owner: 'agent' } as const;
    expect(flagValue(spec, spec.default)).toEqual([1, 2]);
    (FLAGS as unknown as object[]).push(spec);
    try {
      expect(renderValues(current)).not.toBe(current);
      expect(renderValues(current)).toMatch(/\n {2}new-flag: \[1, ?2\]\n/);
    } finally {
      (FLAGS as unknown as object[]).pop();
    }
  });
});

describe('manifests', () => {
  const expected: Record<string, { router: boolean; firewall: boolean; proxy: boolean; cni: boolean }> = {
    'deploy/all.yaml': { router: true, firewall: true, proxy: false, cni: true },
    'deploy/firewall-only.yaml': { router: false, firewall: true, proxy: false, cni: false },
    'deploy/proxy-only.yaml': { router: false, firewall: false, proxy: true, cni: false },
    'deploy/advertise-routes.yaml': { router: true, firewall: true, proxy: false, cni: true },
  };
  expect(Object.keys(expected).slice(1)).toEqual(VARIANTS.map((v) => v.file));

  for (const [file, want] of Object.entries(expected)) {
    it(`${file}: the agent parses its args; the pod has what a node agent needs`, async () => {
      const { docs, ds } = daemonSet(file);
      const pod = ds.spec.template.spec;
      const c = pod.containers[0];
      const outcome = parseAgentArgs(c.args);
      if (outcome.kind !== 'run') throw new Error('not a run');
      expect({ router: outcome.config.runRouter, firewall: outcome.config.runFirewall, proxy: outcome.config.runServiceProxy }).toEqual({
        router: want.router, firewall: want.firewall, proxy: want.proxy,
      });
      expect(outcome.config.kubeconfig).toBe('/var/lib/kube-router/kubeconfig');
      expect(pod).toMatchObject({ hostNetwork: true, priorityClassName: 'system-node-critical', tolerations: [{ operator: 'Exists' }] });
      expect(c.securityContext.privileged).toBe(true);
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: outcome.config.healthPort });
      expect(c.resources.requests).toEqual({ cpu: '250m', memory: '250Mi' });
      const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
      const volumes = Object.fromEntries(pod.volumes.map((v: { name: string; hostPath?: { path: string } }) => [v.name, v.hostPath?.path]));
      expect(volumes[mounts['/lib/modules']]).toBe('/lib/modules');
      expect(volumes[mounts['/run/xtables.lock']]).toBe('/run/xtables.lock');
      // The kubeconfig the agent reads is the mounted ConfigMap; its server is the line users edit.
      const kcMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'kube-router-kubeconfig');
      const sa = mkdtempSync(join(tmpdir(), 'krt-sa-'));
      writeFileSync(join(sa, 'token'), 'sa-token');
      writeFileSync(join(sa, 'ca.crt'), 'not checked here');
      const kc = new KubeConfig();
      // client-node reads token-file and the CA while loading; point them at stand-ins for the projected files.
      kc.loadFromString(kcMap.data.kubeconfig.replaceAll('/var/run/secrets/kubernetes.io/serviceaccount', sa));
      const opts: { headers?: Record<string, string> } = {};
      try {
        await kc.applyToHTTPSOptions(opts);
      } finally {
        rmSync(sa, { recursive: true, force: true });
      }
      expect(opts.headers?.Authorization).toBe('Bearer sa-token');
      expect(kc.getCurrentCluster()?.server).toBe('https://KUBE_APISERVER_ADDRESS:6443');
      expect(kc.getCurrentUser()).toMatchObject({ name: 'kube-router' });
      if (want.cni) {
        expect(volumes[mounts['/etc/cni/net.d']]).toBe('/etc/cni/net.d');
        const init = pod.initContainers[0];
        const initMounts = Object.fromEntries(init.volumeMounts.map((m: { name: string; mountPath: string }) => [m.name, m.mountPath]));
        expect(volumes['cni-bin']).toBe('/opt/cni/bin');
        expect(initMounts['cni-bin']).toBe(init.env.find((e: { name: string }) => e.name === 'CNI_BIN_DIR').value);
        const conf = JSON.parse(docs.find((d) => d.metadata.name === 'kube-router-cfg').data['cni-conf.json']);
        expect(conf.plugins.map((p: { type: string }) => p.type)).toEqual(['bridge', 'portmap']);
        expect(conf.plugins[0].bridge).toBe('kube-bridge');
      } else {
        expect(pod.initContainers).toBeUndefined();
        expect(docs.some((d) => d.metadata.name === 'kube-router-cfg')).toBe(false);
        expect(Object.values(volumes)).not.toContain('/etc/cni/net.d');
      }
    });
  }

  it('advertise-routes peers with a ToR', () => {
    const outcome = parseAgentArgs(daemonSet('deploy/advertise-routes.yaml').ds.spec.template.spec.containers[0].args);
    if (outcome.kind !== 'run') throw new Error('not a run');
    expect(outcome.config).toMatchObject({ peerRouterIps: ['192.0.2.1'], peerRouterAsns: [64513], clusterAsn: 64512, advertiseClusterIp: true });
  });
});

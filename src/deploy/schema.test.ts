// Every shipped manifest validates against the Kubernetes API schemas (kubernetes-models), and the
// validator does catch what a real API server would refuse.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './generate.js';
import { validateManifests } from './k8s-schema.js';

const MANIFESTS = readdirSync(join(ROOT, 'deploy')).filter((f) => f.endsWith('.yaml'));

describe('Kubernetes schemas', () => {
  it('ships the four manifests', () => {
    expect(MANIFESTS.sort()).toEqual(['advertise-routes.yaml', 'all.yaml', 'firewall-only.yaml', 'proxy-only.yaml']);
  });

  for (const file of MANIFESTS) {
    it(`deploy/${file} is valid`, async () => {
      const { objects, problems } = await validateManifests(readFileSync(join(ROOT, 'deploy', file), 'utf8'));
      expect(problems).toEqual([]);
      const kinds = objects.map((o) => o.kind);
      expect(kinds).toEqual(expect.arrayContaining(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']));
    });
  }

  it('reports a wrong type, a missing required field and an unknown kind', async () => {
    const all = readFileSync(join(ROOT, 'deploy/all.yaml'), 'utf8');
    const bad = all.replace('initialDelaySeconds: 10', 'initialDelaySeconds: soon').replace('    verbs: [list, watch]\n', '    verbs: list\n');
    const { problems } = await validateManifests(bad);
    expect(problems.map((p) => p.doc)).toEqual(['ClusterRole/kube-router', 'DaemonSet/kube-router']);
    expect(problems[1]!.message).toContain('livenessProbe/initialDelaySeconds must be integer');
    const noContainers = await validateManifests('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n');
    expect(noContainers.problems[0]!.message).toContain('data/spec must have required property containers');
    const unknown = await validateManifests('apiVersion: apps/v1\nkind: Daemonset\nmetadata: {name: x}\n');
    expect(unknown.problems[0]!.message).toMatch(/Daemonset/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentPodSpec, labAgentEnv, labAgentFlags } from './pod-spec.js';

const ALL = readFileSync(join(import.meta.dirname, '../../deploy/all.yaml'), 'utf8');
const node = { name: 'lab-node-2', cniConf: '/run/lab/nodes/lab-node-2/cni/10-kuberouter.conflist' };

describe('lab agents from the DaemonSet pod spec', () => {
  it("takes deploy/all.yaml's args, less the kubeconfig the lab replaces", () => {
    const spec = agentPodSpec(ALL);
    expect(spec.args).toContain('--kubeconfig=/var/lib/kube-router/kubeconfig');
    expect(labAgentFlags(spec)).toEqual(spec.args.filter((a) => !a.startsWith('--kubeconfig')));
    expect(labAgentFlags(spec)).toContain('--bgp-graceful-restart=true');
  });

  it('resolves the downward API and maps host paths to the lab node', () => {
    expect(labAgentEnv(agentPodSpec(ALL), node)).toEqual({
      NODE_NAME: 'lab-node-2',
      POD_NAME: 'kube-router-lab-node-2',
      KUBE_ROUTER_CNI_CONF_FILE: node.cniConf,
    });
  });

  it('refuses what the lab cannot reproduce', () => {
    const secretEnv = ALL.replace(
      "            - name: POD_NAME\n              valueFrom: { fieldRef: { fieldPath: metadata.name } }",
      "            - name: POD_NAME\n              valueFrom: { secretKeyRef: { name: s, key: k } }",
    );
    expect(secretEnv).not.toBe(ALL);
    expect(() => labAgentEnv(agentPodSpec(secretEnv), node)).toThrow('env POD_NAME: only values and fieldRefs');
    const otherFile = ALL.replace(
      '- { name: KUBE_ROUTER_CNI_CONF_FILE, value: /etc/cni/net.d/10-kuberouter.conflist }',
      '- { name: KUBE_ROUTER_CNI_CONF_FILE, value: /etc/cni/net.d/99-other.conflist }',
    );
    expect(otherFile).not.toBe(ALL);
    expect(() => labAgentEnv(agentPodSpec(otherFile), node)).toThrow('the lab kubelet reads');
    expect(() => agentPodSpec('kind: ConfigMap\n')).toThrow('no DaemonSet');
  });
});

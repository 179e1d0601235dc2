// Lab agents started from the shipped DaemonSet's pod spec (deploy/all.yaml), so the manifest users apply
// is the one the lab exercises: its args, and its env with the downward API resolved the way the kubelet
// would for the lab node. What a lab node cannot honour is translated, and only that:
//  - --kubeconfig: the manifest's is a ConfigMap mount with a service account token; the lab's kubeconfig
//    reaches the lab API server in the node namespace instead;
//  - paths under a hostPath mount (e.g. KUBE_ROUTER_CNI_CONF_FILE under /etc/cni/net.d) map to the lab
//    node's own directory for that host path (the CNI dir of its state dir).
// Anything else the lab could not reproduce (another fieldRef, env from a Secret) is an error, not a skip.
import { basename, dirname, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface AgentPodSpec {
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value?: string; readonly fieldPath?: string }[];
  /** mountPath -> hostPath of the agent container's hostPath mounts. */
  readonly hostMounts: ReadonlyMap<string, string>;
}

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

export function agentPodSpec(manifest: string, container = 'kube-router'): AgentPodSpec {
  const ds = parseAllDocuments(manifest)
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'DaemonSet');
  if (!ds) throw new Error('the manifest has no DaemonSet');
  const pod = ds.spec.template.spec as { containers: Container[]; volumes?: { name: string; hostPath?: { path: string } }[] };
  const c = pod.containers.find((x) => x.name === container);
  if (!c) throw new Error(`the DaemonSet has no container ${container}`);
  const env = (c.env ?? []).map((e) => {
    if (e.value !== undefined) return { name: e.name, value: e.value };
    const fieldPath = e.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath) return { name: e.name, fieldPath };
    throw new Error(`env ${e.name}: only values and fieldRefs can be reproduced in the lab`);
  });
  const hostPaths = new Map((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
  const hostMounts = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const hp = hostPaths.get(m.name);
    if (hp) hostMounts.set(m.mountPath, hp);
  }
  return { args: [...(c.args ?? [])], env, hostMounts };
}

/** The manifest's args as a lab node runs them: --kubeconfig dropped (the lab passes its own). */
export function labAgentFlags(spec: AgentPodSpec): string[] {
  return spec.args.filter((a) => !/^--kubeconfig(=|$)/.test(a));
}

export interface LabNodeView {
  readonly name: string;
  /** The node's CNI config file; its directory stands for the host's /etc/cni/net.d. */
  readonly cniConf: string;
}

/** The agent's environment on a lab node, as the kubelet would set it there. */
export function labAgentEnv(spec: AgentPodSpec, node: LabNodeView): Record<string, string> {
  const labDirFor: Record<string, string> = { '/etc/cni/net.d': dirname(node.cniConf) };
  const out: Record<string, string> = {};
  for (const e of spec.env) {
    if (e.fieldPath !== undefined) {
      if (e.fieldPath === 'spec.nodeName') out[e.name] = node.name;
      else if (e.fieldPath === 'metadata.name') out[e.name] = `kube-router-${node.name}`;
      else if (e.fieldPath === 'metadata.namespace') out[e.name] = 'kube-system';
      else throw new Error(`env ${e.name}: fieldRef ${e.fieldPath} cannot be reproduced in the lab`);
      continue;
    }
    const value = e.value!;
    const mount = [...spec.hostMounts.keys()].find((m) => value === m || value.startsWith(`${m}/`));
    if (mount) {
      const host = spec.hostMounts.get(mount)!;
      const lab = labDirFor[host];
      if (!lab) throw new Error(`env ${e.name}=${value}: the lab has no stand-in for host path ${host}`);
      out[e.name] = value === mount ? lab : posix.join(lab, posix.relative(mount, value));
    } else {
      out[e.name] = value;
    }
  }
  if (out.KUBE_ROUTER_CNI_CONF_FILE && basename(out.KUBE_ROUTER_CNI_CONF_FILE) !== basename(node.cniConf)) {
    throw new Error(`KUBE_ROUTER_CNI_CONF_FILE ${out.KUBE_ROUTER_CNI_CONF_FILE}: the lab kubelet reads ${node.cniConf}`);
  }
  return out;
}

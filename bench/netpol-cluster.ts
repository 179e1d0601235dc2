// The firewall benchmarks' synthetic cluster (bench/netpol.ts, bench/netpol-compile.ts): PODS pods spread
// over NAMESPACES namespaces, all on node `bench`, and POLICIES policies with mixed selectors, ipBlocks
// and named ports.
import type { ClusterSnapshot, NetworkPolicyModel, PodModel } from '../src/model/types.js';
import type { CompileOptions } from '../src/controllers/firewall/compile/compiler.js';
import { namespace, pod, policy, snapshot } from '../src/testing/firewall/fixtures.js';

export function buildCluster(PODS: number, NAMESPACES: number, POLICIES: number): ClusterSnapshot {
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => namespace(`ns${i}`, { team: `t${i % 5}`, env: i % 2 ? 'prod' : 'dev' }));
  const pods: PodModel[] = [];
  for (let i = 0; i < PODS; i++) {
    const ns = `ns${i % NAMESPACES}`;
    pods.push(
      pod({
        ns,
        name: `p${i}`,
        ip: `10.244.${Math.floor(i / 250)}.${(i % 250) + 2}`,
        node: 'bench',
        labels: { app: `app${i % 10}`, tier: ['web', 'db', 'cache'][i % 3]!, ...(i % 7 === 0 ? { canary: 'true' } : {}) },
        ports: [
          { name: 'http', containerPort: 8080 + (i % 2), protocol: 'TCP' },
          { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      }),
    );
  }
  const policies: NetworkPolicyModel[] = [];
  for (let i = 0; i < POLICIES; i++) {
    const ns = `ns${i % NAMESPACES}`;
    const sel = { matchLabels: { app: `app${i % 10}` } };
    switch (i % 5) {
      case 0:
        policies.push(policy(ns, `np${i}`, { podSelector: sel, ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 'http' }] }] }));
        break;
      case 1:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: sel,
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${i % 5}` } }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'cache'] }] } }] }],
          }),
        );
        break;
      case 2:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: { matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] },
            ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.244.${i % 20}.0/24`] } }], ports: [{ port: 8000, endPort: 8100 }] }],
          }),
        );
        break;
      case 3:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: sel,
            policyTypes: ['Ingress', 'Egress'],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'prod' } } }] }],
            egress: [{ to: [{ podSelector: {} }], ports: [{ port: 'dns', protocol: 'UDP' }] }, { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }], ports: [{ port: 443 }] }],
          }),
        );
        break;
      default:
        policies.push(policy(ns, `np${i}`, { podSelector: sel, ingress: [{ ports: [{ port: 'metrics' }] }, { from: [{ podSelector: { matchLabels: { canary: 'true' } } }] }] }));
    }
  }
  return snapshot({ namespaces, pods, policies });
}

export const OPTS: CompileOptions = {
  nodeName: 'bench',
  families: [4],
  podCIDRs: ['10.244.0.0/16'],
  ranges: { clusterIPRanges: ['10.96.0.0/12'], externalIPRanges: [], loadBalancerIPRanges: [], nodePortRange: { min: 30000, max: 32767 } },
};

// The service proxy's host-side cost at scale, without a kernel: compile a cluster of N services x M
// endpoints into a plan, diff it against the IPVS table the previous plan made (as `ipvsadm -S -n` would
// print it), and count the IPVS commands one EndpointSlice change produces. Prints min/median/max over runs
// and the RSS. The kernel side (ipvsadm -R into UML's IPVS) is not measured here (see the notes).
//   npx tsx bench/proxy.ts [--services 10000] [--endpoints 10] [--runs 5]
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../src/model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, ServiceModel } from '../src/model/types.js';
import { compileProxyPlan, type ProxyInputs } from '../src/controllers/proxy/compile/services.js';
import { diffIpvs, parseIpvsSave } from '../src/controllers/proxy/apply/ipvs-table.js';
import type { ProxyPlan } from '../src/controllers/proxy/compile/plan.js';

const args = process.argv.slice(2);
const num = (flag: string, d: number) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : d);
const S = num('--services', 10_000), E = num('--endpoints', 10), RUNS = num('--runs', 5);

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const ip = (base: number, i: number) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function cluster(changedService = -1): ClusterSnapshot {
  const services = new Map<string, ServiceModel>();
  const slices = new Map<string, EndpointSliceModel>();
  for (let s = 0; s < S; s++) {
    const name = `svc-${s}`;
    services.set(`default/${name}`, ok(normalizeService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name }, spec: { type: 'ClusterIP', clusterIP: ip(10, s + 1), clusterIPs: [ip(10, s + 1)], ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } })));
    const n = s === changedService ? E + 1 : E;
    slices.set(`default/${name}-a`, ok(normalizeEndpointSlice({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { name: `${name}-a`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: n }, (_, e) => ({ addresses: [ip(11, s * (E + 1) + e)], nodeName: `n${e % 50}`, conditions: { ready: true, serving: true, terminating: false } })),
    })));
  }
  const node = ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: { podCIDR: '10.244.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }] } }));
  return { nodes: new Map([['n1', node]]), namespaces: new Map(), pods: new Map(), services, endpointSlices: slices, policies: new Map() };
}

const inputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: [], loadBalancerIPRanges: [], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};

/** The table a plan leaves in the kernel, as `ipvsadm -S -n` prints it. */
function saveOf(plan: ProxyPlan): string {
  const out: string[] = [];
  for (const v of plan.virtualServers.values()) {
    out.push(`-A -t ${v.address}:${v.port} -s ${v.scheduler}`);
    for (const r of v.realServers) out.push(`-a -t ${v.address}:${v.port} -r ${r.address}:${r.port} -m -w ${r.weight}`);
  }
  return out.join('\n');
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(1)} / median ${s[Math.floor(s.length / 2)]!.toFixed(1)} / max ${s[s.length - 1]!.toFixed(1)} ms`;
};

const base = cluster();
const changed = cluster(Math.floor(S / 2));
const compileMs: number[] = [], parseMs: number[] = [], diffMs: number[] = [];
let commands: string[] = [];
let servers = 0;
for (let r = 0; r < RUNS; r++) {
  let t = performance.now();
  const before = compileProxyPlan(base, inputs);
  const after = compileProxyPlan(changed, inputs);
  compileMs.push((performance.now() - t) / 2);
  t = performance.now();
  const table = parseIpvsSave(saveOf(before));
  parseMs.push(performance.now() - t);
  t = performance.now();
  const d = diffIpvs(after.virtualServers, table, { owned: () => true, graceful: false, keepDraining: new Set() });
  diffMs.push(performance.now() - t);
  commands = d.commands;
  servers = after.virtualServers.size;
}
console.log(`proxy bench: ${S} services x ${E} endpoints (${servers} virtual servers, ${S * E} real servers), ${RUNS} runs, node ${process.version}`);
console.log(`  compile (model -> plan):           ${stats(compileMs)}`);
console.log(`  read (parse ipvsadm -S -n):         ${stats(parseMs)}`);
console.log(`  diff (plan vs table):               ${stats(diffMs)}`);
console.log(`  one EndpointSlice change (+1 endpoint) -> ${commands.length} IPVS command(s): ${commands.join(' | ')}`);
console.log(`  RSS ${Math.round(process.memoryUsage().rss / 1e6)} MB`);

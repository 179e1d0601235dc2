// The service proxy's end-to-end cases, on real IPVS in a user-mode Linux lab (test/lab-proxy.uml.test.ts
// brings the lab; this host kernel has no IPVS): pods that answer with their name, and real connections
// through ClusterIP, NodePort and an external IP. The pure compile and the IPVS diff are unit-tested beside
// their code (src/controllers/proxy).
//
// Pods: web-1, web-3 and c1 on lab-node-1, web-2 and c2 on lab-node-2.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatCase, loadCases, needsServiceProxy, runConformance } from '../../src/lab/conformance.js';
import { lastSyncOf } from '../../src/lab/health.js';
import type { Lab } from '../../src/lab/index.js';
import { R, type KObj } from '../../src/lab/kube.js';
import { waitFor } from '../../src/testing/wait.js';
import { labSh } from '../lab-helpers.js';
import { dsrCase } from './dsr.js';
import { restartAgent } from './restart.js';

const pod = (name: string, node: string, labels: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'UDP' }] }] },
});

const service = (name: string, spec: KObj, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', annotations },
  spec: { ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }], ...spec },
});

const METRICS_PORT = 20245;
/**
 * HTTP GET from a lab target: status line, then the body. shut-none: a client that half-closes after its
 * request makes a Node server drop a response it is still computing (a scrape reads IPVS first); -t: after
 * EOF socat waits only 0.5 s by default.
 */
const httpGet = (lab: Lab, from: string, ip: string, port: number, path: string, timeoutS = 3) =>
  labSh(lab, from, `printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | socat -T${timeoutS} -t${timeoutS} - TCP:${ip}:${port},connect-timeout=3,shut-none 2>/dev/null || true`);
const PROJECT_CASES = join(__dirname, '..', 'conformance', 'netpol');

/**
 * The agent flags these cases need from the shared cluster. BGP graceful restart as kube-router's own
 * manifests run it: without it, restarting one agent makes the other node withdraw its pod routes until
 * the session is back, and replies to that node's pods are lost meanwhile (a routing gap, not the proxy's).
 */
export const PROXY_AGENT_FLAGS = [
  '--ipvs-graceful-termination=true', '--ipvs-graceful-period=6s', '--service-external-ip-range=192.0.2.0/24', `--metrics-port=${METRICS_PORT}`,
  '--bgp-graceful-restart=true',
];

export interface ProxyCaseOptions {
  /** The two nodes' underlay addresses. */
  readonly n1: string;
  readonly n2: string;
  /**
   * Also the cases beyond the core (sh, affinity, Local traffic policy, hairpin, draining, NetworkPolicy
   * after DNAT): ~3 more minutes in UML on 2 cores, so the default suite runs them only with
   * KRT_UML_FULL=1 (scripts/test.sh --full).
   */
  readonly full: boolean;
}

export function proxyCases(getLab: () => Lab, o: ProxyCaseOptions): void {
  const { n1: N1, n2: N2 } = o;
  const more = o.full ? it : it.skip;
  describe('service proxy on IPVS', () => {
    let lab: Lab;
    let ips: Record<string, string> = {};
    const vip = async (name: string) => (await lab.client.get(R.services, 'default', name))['spec']['clusterIP'] as string;

    /** `n` TCP connections, one after the other, from a lab target; the names that answered, in order. */
    async function ask(from: string, ip: string, port: number, n: number): Promise<string[]> {
      const out = await labSh(lab, from, `for i in $(seq 1 ${n}); do socat -T2 - TCP:${ip}:${port},connect-timeout=2 </dev/null 2>/dev/null || echo none; done`);
      return out.split('\n').filter(Boolean);
    }
    /** The IPVS writer a node's agent uses, from its metrics (netlink, or the ipvsadm fallback). */
    const writerOf = async (node: string, addr: string) => {
      const text = await httpGet(lab, node, addr, METRICS_PORT, '/metrics', 30);
      return /kube_router_controller_ipvs_writer\{writer="(\w+)"\} 1\b/.exec(text)?.[1] ?? `none in:\n${text.split('\n').filter((l) => l.includes('ipvs_writer')).join('\n')}`;
    };
    const counts = (names: string[]) => names.reduce<Record<string, number>>((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {});
    /** Polls until a connection gets an answer matching `ok` (agents program changes asynchronously). */
    const answers = (from: string, ip: string, port: number, ok: (names: string[]) => boolean, what: string) =>
      waitFor(what, async () => {
        const names = await ask(from, ip, port, 6);
        return ok(names) && names;
      }, 60_000, 500);

    beforeAll(async () => {
      lab = getLab();
      const pods: [string, string, Record<string, string>][] = [
        ['web-1', 'lab-node-1', { app: 'web', solo: 'yes' }], ['web-2', 'lab-node-2', { app: 'web' }], ['web-3', 'lab-node-1', { app: 'web' }],
        ['c1', 'lab-node-1', { role: 'client' }], ['c2', 'lab-node-2', { role: 'other' }],
      ];
      for (const [n, node, labels] of pods) await lab.client.create(R.pods, 'default', pod(n, node, labels));
      await lab.client.create(R.services, 'default', service('web', {
        type: 'NodePort', selector: { app: 'web' }, externalIPs: ['192.0.2.10'],
        ports: [{ name: 'http', port: 80, targetPort: 80, nodePort: 30080, protocol: 'TCP' }],
      }));
      ips = await lab.waitForPods(pods.map(([n]) => `default/${n}`), 180_000);
    }, 240_000);

    it('holds the ClusterIP and external IP on kube-dummy-if and serves them from IPVS in NAT mode', async () => {
      const ip = await vip('web');
      const table = await waitFor('IPVS service with 3 real servers on node 1', async () => {
        const t = await labSh(lab, 'lab-node-1', 'ipvsadm -Ln');
        return (t.match(/-> 10\.244\.\d+\.\d+:80\s+Masq\s+1/g) ?? []).length >= 3 * 3 && t;
      }, 90_000);
      expect(table).toContain(`TCP  ${ip}:80 rr`);
      expect(table).toContain(`TCP  ${N1}:30080 rr`);
      expect(table).toContain('TCP  192.0.2.10:80 rr');
      for (const node of ['lab-node-1', 'lab-node-2']) {
        const addrs = await labSh(lab, node, 'ip -4 -o addr show dev kube-dummy-if');
        expect(addrs).toContain(`${ip}/32`);
        expect(addrs).toContain('192.0.2.10/32');
      }
      // Written over the resident netlink socket, not ipvsadm -R (the addon loads in the lab's agents).
      expect(await writerOf('lab-node-1', N1)).toBe('netlink');
    }, 120_000);

    it('spreads ClusterIP connections evenly (round robin) from a pod on the same node and on another node, without NAT of the pod', async () => {
      const ip = await vip('web');
      await answers('default/c1', ip, 80, (n) => !n.includes('none'), 'ClusterIP answers from c1');
      for (const from of ['default/c1', 'default/c2']) {
        const c = counts(await ask(from, ip, 80, 12));
        expect(Object.keys(c).sort()).toEqual(['web-1', 'web-2', 'web-3']);
        expect(Math.max(...Object.values(c)) - Math.min(...Object.values(c))).toBeLessThanOrEqual(1);
      }
    }, 120_000);

    it('serves the NodePort to a client outside the pod network and the external IP to pods', async () => {
      const fromNode2 = await answers('lab-node-2', N1, 30080, (n) => n.every((x) => x.startsWith('web-')), 'NodePort answers from node 2');
      expect(fromNode2.length).toBe(6);
      const ext = await ask('default/c2', '192.0.2.10', 80, 6);
      expect(ext.every((x) => x.startsWith('web-'))).toBe(true);
    }, 120_000);

    // While the pods are as created (later cases delete some).
    dsrCase(more, () => lab, { n1: N1, n2: N2, metrics: (node, addr) => httpGet(lab, node, addr, METRICS_PORT, '/metrics', 30) });

    more('sh keeps a client on one backend; ClientIP affinity keeps it for its timeout', async () => {
      await lab.client.create(R.services, 'default', service('sticky-sh', { selector: { app: 'web' } }, { 'kube-router.io/service.scheduler': 'sh' }));
      await lab.client.create(R.services, 'default', service('sticky-aff', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }));
      const sh = await vip('sticky-sh'), aff = await vip('sticky-aff');
      await answers('default/c1', sh, 80, (n) => !n.includes('none'), 'sh service answers');
      expect(Object.keys(counts(await ask('default/c1', sh, 80, 12)))).toHaveLength(1);
      expect(await labSh(lab, 'lab-node-1', 'ipvsadm -Ln')).toMatch(new RegExp(`TCP  ${aff.replace(/\./g, '\\.')}:80 rr persistent 30`));
      await answers('default/c2', aff, 80, (n) => !n.includes('none'), 'affinity service answers');
      expect(Object.keys(counts(await ask('default/c2', aff, 80, 12)))).toHaveLength(1);
    }, 120_000);

    more('externalTrafficPolicy Local answers only from local endpoints, and drops when a node has none', async () => {
      await lab.client.create(R.services, 'default', service('local', {
        type: 'NodePort', selector: { app: 'web' }, externalTrafficPolicy: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 80, nodePort: 30081, protocol: 'TCP' }],
      }));
      await lab.client.create(R.services, 'default', service('remote-only', {
        type: 'NodePort', selector: { app: 'web', solo: 'no' }, externalTrafficPolicy: 'Local',
        ports: [{ name: 'http', port: 80, targetPort: 80, nodePort: 30082, protocol: 'TCP' }],
      }));
      const names = await answers('lab-node-2', N1, 30081, (n) => n.every((x) => x === 'web-1' || x === 'web-3'), 'Local NodePort on node 1');
      expect(new Set(names)).toEqual(new Set(['web-1', 'web-3']));
      // web-2 lives on node 2: node 1 has no local endpoint for it and must not forward elsewhere.
      await lab.client.modify(R.pods, 'default', 'web-2', (p) => void (p['metadata']['labels']['solo'] = 'no'));
      await waitFor('remote-only on node 2 has its endpoint', async () => (await ask('lab-node-1', N2, 30082, 1))[0] === 'web-2', 60_000, 500);
      expect(await ask('lab-node-2', N1, 30082, 3)).toEqual(['none', 'none', 'none']);
    }, 150_000);

    more('hairpin: a pod reaches itself through its service when the service asks for it', async () => {
      await lab.client.create(R.services, 'default', service('solo', { selector: { solo: 'yes' } }, { 'kube-router.io/service.hairpin': '' }));
      const ip = await vip('solo');
      const names = await answers('default/web-1', ip, 80, (n) => n.every((x) => x === 'web-1'), 'web-1 through its own service');
      expect(names).toEqual(Array(6).fill('web-1'));
      expect(await labSh(lab, 'lab-node-1', 'iptables-save -t nat')).toContain(`-j SNAT --to-source ${ip}`);
    }, 120_000);

    more('the VIP firewall: a ClusterIP answers on its service ports only, the node address on all of its own', async () => {
      const ip = await vip('web');
      // The agent's health port listens on every address of the node, so also on the VIP: refused there.
      const tryPort = (to: string, port: number) => labSh(lab, 'default/c1', `socat -T2 - TCP:${to}:${port},connect-timeout=2 </dev/null >/dev/null 2>&1 && echo open || echo closed`);
      expect((await tryPort(ip, 20244)).trim()).toBe('closed');
      expect((await tryPort(N1, 20244)).trim()).toBe('open');
      expect((await ask('default/c1', ip, 80, 2)).every((x) => x.startsWith('web-'))).toBe(true);
      const fw = await labSh(lab, 'lab-node-1', 'iptables -S KUBE-ROUTER-SERVICES; ipset list kube-router-svip-prt');
      expect(fw).toContain(`${ip},tcp:80`);
      expect(fw).toContain('reject all unexpected traffic to service IPs');
    }, 120_000);

    more('healthCheckNodePort answers as kube-proxy: 200 with the local endpoint count where there is one, 503 elsewhere', async () => {
      await lab.client.create(R.services, 'default', service('lb-local', {
        type: 'LoadBalancer', selector: { solo: 'yes' }, externalTrafficPolicy: 'Local', healthCheckNodePort: 32100,
        ports: [{ name: 'http', port: 80, targetPort: 80, nodePort: 30090, protocol: 'TCP' }],
      }));
      const on1 = await waitFor('health check on node 1', async () => {
        const r = await httpGet(lab, 'lab-node-2', N1, 32100, '/healthz');
        return r.startsWith('HTTP/1.1 200') && r;
      }, 60_000, 500);
      expect(on1).toContain('X-Load-Balancing-Endpoint-Weight: 1');
      expect(JSON.parse(on1.slice(on1.indexOf('{')))).toEqual({ service: { namespace: 'default', name: 'lb-local' }, localEndpoints: 1, serviceProxyHealthy: true });
      const on2 = await httpGet(lab, 'lab-node-1', N2, 32100, '/healthz');
      expect(on2.startsWith('HTTP/1.1 503')).toBe(true);
      expect(JSON.parse(on2.slice(on2.indexOf('{'))).localEndpoints).toBe(0);
    }, 120_000);

    more('per-service IPVS metrics under kube-router names count the connections made', async () => {
      const ip = await vip('web');
      await ask('default/c1', ip, 80, 5);
      // The kernel folds its per-CPU counters into what a read sees every 2 s: scrape until they show.
      let text = '';
      const series = () => text.split('\n').find((l) => l.startsWith('kube_router_service_total_connections{') && l.includes(`service_vip="${ip}"`));
      const line = await waitFor('the 5 connections in the metrics', async () => {
        text = await httpGet(lab, 'lab-node-1', N1, METRICS_PORT, '/metrics', 30);
        const l = series();
        return l !== undefined && Number(l.split(' ').pop()) >= 5 && l;
      }, 30_000, 1000).catch(() => series());
      if (!line) {
        const log = lab.state.nodes.find((n) => n.name === 'lab-node-1')?.log;
        const said = log && existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => /metrics|listen/i.test(l)).slice(0, 5).join('\n') : '(no log)';
        const ss = await labSh(lab, 'lab-node-1', 'ss -ltn 2>&1 | head -20 || true');
        throw new Error(`no kube_router_service_total_connections series for ${ip}; the scrape gave:\n${text.slice(0, 1500)}\nlisteners:\n${ss}\nagent log:\n${said}`);
      }
      expect(line).toContain('svc_namespace="default",service_name="web"');
      expect(line).toContain('protocol="tcp",port="80"');
      expect(Number(line!.split(' ').pop())).toBeGreaterThanOrEqual(5);
      expect(text).toMatch(/kube_router_service_bytes_in\{[^}]*service_vip="[^"]+"[^}]*\} [1-9]/);
    }, 60_000);

    more('an agent restarted under traffic: an established connection survives and new connections keep being served', async () => {
      // An echo server on web-1, behind its own service; the client and the restarted agent are on node 2.
      // Detached: a lab exec is bounded (130 s), the server must outlive the stream.
      await labSh(lab, 'default/web-1', 'setsid socat TCP-LISTEN:9000,fork,reuseaddr EXEC:cat </dev/null >/dev/null 2>&1 &');
      await lab.client.create(R.services, 'default', service('echo', { selector: { solo: 'yes' }, ports: [{ name: 'echo', port: 9000, targetPort: 9000, protocol: 'TCP' }] }));
      const ip = await vip('echo');
      const web = await vip('web');
      await waitFor('echo through the ClusterIP from c2', async () => (await labSh(lab, 'default/c2', `echo hi | socat -T2 - TCP:${ip}:9000,connect-timeout=2 2>/dev/null || true`)).trim() === 'hi', 60_000, 500);
      // Client loops run detached inside the lab and write to the node's state dir (a host directory the lab
      // mounts), until the test drops a STOP file: longer than a bounded lab exec, past the new agent's first sync.
      const dir = dirname(lab.state.nodes.find((n) => n.name === 'lab-node-2')!.log);
      const [STOP, STREAM, FRESH] = ['restart-stop', 'restart-stream', 'restart-fresh'].map((f) => join(dir, f)) as [string, string, string];
      await labSh(lab, 'default/c2',
        `setsid sh -c '(i=0; while [ ! -e ${STOP} ]; do echo $i; i=$((i+1)); sleep 0.25; done) | socat -T10 - TCP:${ip}:9000,connect-timeout=3 2>/dev/null | ` +
        `while read l; do echo "$(date +%s%3N) $l"; done > ${STREAM}; echo end >> ${STREAM}' </dev/null >/dev/null 2>&1 &`);
      await labSh(lab, 'default/c2',
        `setsid sh -c 'while [ ! -e ${STOP} ]; do o=$(socat -T2 - TCP:${web}:80,connect-timeout=2 </dev/null 2>/dev/null); echo "$(date +%s%3N) \${o:-none}"; sleep 0.2; done > ${FRESH}; echo end >> ${FRESH}' </dev/null >/dev/null 2>&1 &`);
      await new Promise((r) => setTimeout(r, 3000));
      const restartedAt = Date.now();
      const pids = await restartAgent(lab, 'lab-node-2');
      expect(pids.newPid).not.toBe(pids.oldPid);
      // The new agent's first proxy sync is a full one: it must adopt the kernel state, not rebuild it.
      await waitFor('the new agent on node 2 synced its proxy', async () => {
        const h = (await lab.health())['lab-node-2'];
        return Boolean(h?.ok && (lastSyncOf(h, 'proxy')?.at ?? 0) > restartedAt);
      }, 180_000, 1000).catch((e: Error) => {
        const log = lab.state.nodes.find((n) => n.name === 'lab-node-2')?.log;
        const tail = log && existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
        throw new Error(`${e.message}; new agent ${pids.newPid}, its log ends:\n${tail}`);
      });
      await new Promise((r) => setTimeout(r, 3000));
      writeFileSync(STOP, '');
      const read = (f: string) => waitFor(`${f} complete`, () => existsSync(f) && readFileSync(f, 'utf8').endsWith('end\n') && readFileSync(f, 'utf8'), 30_000, 500);
      const lines = (await read(STREAM)).trim().split('\n').slice(0, -1);
      const echoed = lines.map((l) => l.split(' ').map(Number) as [number, number]);
      // Every line came back over the one connection, in order, with no long stall, through the restart.
      expect(echoed.length).toBeGreaterThan((Date.now() - restartedAt) / 1000);
      expect(echoed.map(([, n]) => n)).toEqual([...Array(echoed.length).keys()]);
      const gaps = echoed.slice(1).map(([t], i) => t - echoed[i]![0]);
      expect(Math.max(...gaps)).toBeLessThan(3000);
      const tries = (await read(FRESH)).trim().split('\n').slice(0, -1);
      expect(tries.length).toBeGreaterThan(10);
      expect(tries.filter((l) => l.endsWith(' none'))).toEqual([]);
    }, 360_000);

    more('with the netlink addon disabled (KRT_IPVS_WRITER=ipvsadm) an agent writes IPVS with ipvsadm -R, and serves a new service', async () => {
      const node = 'lab-node-2';
      const restartWith = async (env: Record<string, string | null>) => {
        const at = Date.now();
        await restartAgent(lab, node, env);
        await waitFor(`the restarted agent on ${node} synced its proxy`, async () => {
          const h = (await lab.health())[node];
          return Boolean(h?.ok && (lastSyncOf(h, 'proxy')?.at ?? 0) > at);
        }, 180_000, 1000);
      };
      await restartWith({ KRT_IPVS_WRITER: 'ipvsadm' });
      try {
        expect(await writerOf(node, N2)).toBe('ipvsadm');
        await lab.client.create(R.services, 'default', service('fallback', { selector: { app: 'web' }, ports: [{ name: 'http', port: 8081, targetPort: 80, protocol: 'TCP' }] }));
        const ip = await vip('fallback');
        const names = await answers('default/c2', ip, 8081, (n) => n.every((x) => x.startsWith('web-')), 'the new service answers through node 2 (ipvsadm writer)');
        expect(names.length).toBe(6);
        expect(await labSh(lab, node, `ipvsadm -Ln -t ${ip}:8081`)).toMatch(/Masq\s+1/);
      } finally {
        // Back to the addon; the deletion then goes over netlink.
        await restartWith({ KRT_IPVS_WRITER: null });
      }
      expect(await writerOf(node, N2)).toBe('netlink');
      const ip = await vip('fallback');
      await lab.client.delete(R.services, 'default', 'fallback');
      await waitFor('the deleted service is gone from node 2 (netlink writer)', async () => !(await labSh(lab, node, 'ipvsadm -Sn')).includes(`${ip}:8081`), 60_000, 500);
    }, 480_000);

    more('a scaled-down service drains its removed endpoint (weight 0, no new connections), then removes it', async () => {
      const ip = await vip('web');
      await lab.client.delete(R.pods, 'default', 'web-3', 0);
      const w0 = await waitFor('web-3 at weight 0', async () => {
        const t = await labSh(lab, 'lab-node-1', `ipvsadm -Ln -t ${ip}:80`);
        return t.includes(`${ips['default/web-3']}:80`) && /Masq\s+0/.test(t) && t;
      }, 60_000, 300);
      expect(w0).toMatch(new RegExp(`${ips['default/web-3']!.replace(/\./g, '\\.')}:80\\s+Masq\\s+0`));
      expect(counts(await ask('default/c1', ip, 80, 8))['web-3']).toBeUndefined();
      await waitFor('web-3 removed after the graceful period', async () => !(await labSh(lab, 'lab-node-1', `ipvsadm -Ln -t ${ip}:80`)).includes(`${ips['default/web-3']}:80`), 60_000, 500);
    }, 150_000);

    more('NetworkPolicy still applies after DNAT: a denied client is blocked through the ClusterIP too', async () => {
      const ip = await vip('web');
      await lab.client.create(R.networkpolicies, 'default', {
        apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'web-from-clients', namespace: 'default' },
        spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] },
      });
      await waitFor('c2 denied through the ClusterIP', async () => (await ask('default/c2', ip, 80, 3)).every((x) => x === 'none'), 60_000, 500);
      // The allowed client keeps reaching both endpoints (the local one too, whose rules were just rewritten).
      const names = await answers('default/c1', ip, 80, (n) => n.every((x) => x.startsWith('web-')), 'c1 allowed through the ClusterIP');
      expect(new Set(names)).toEqual(new Set(['web-1', 'web-2']));
      await lab.client.delete(R.networkpolicies, 'default', 'web-from-clients');
    }, 120_000);

    more('UDP: the flows of a removed backend are flushed, so a client keeps getting answers from one that lives', async () => {
      await lab.client.create(R.services, 'default', {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'udp', namespace: 'default' },
        spec: { selector: { app: 'web' }, ports: [{ name: 'dns', port: 53, targetPort: 80, protocol: 'UDP' }] },
      });
      const ip = await vip('udp');
      // One client socket (fixed source port), asking again and again: one conntrack flow.
      const askUdp = () => labSh(lab, 'default/c1', `echo q | socat -T1 - UDP:${ip}:53,sourceport=5353,reuseaddr 2>/dev/null || echo none`).then((o) => o.trim());
      const first = await waitFor('a UDP answer through the ClusterIP', async () => {
        const a = await askUdp();
        return a.startsWith('web-') && a;
      }, 60_000, 500);
      const gone = ips[`default/${first}`]!;
      await lab.client.delete(R.pods, 'default', first, 0);
      const other = await waitFor('answers from a live backend after the removal', async () => {
        const a = await askUdp();
        return a.startsWith('web-') && a !== first && a;
      }, 60_000, 500);
      expect(other).not.toBe(first);
      const flows = await labSh(lab, 'lab-node-1', `conntrack -L -p udp --orig-dst ${ip} 2>/dev/null || true`);
      expect(flows).not.toContain(`src=${gone} `);
    }, 150_000);

    more("the project's NetworkPolicy cases through a ClusterIP ({{clusterip}}) pass on real IPVS", async () => {
      const names = loadCases(PROJECT_CASES).filter((c) => !('error' in c) && needsServiceProxy(c)).map((c) => c.name);
      expect(names.length).toBeGreaterThan(0);
      const r = await runConformance(lab, PROJECT_CASES, { only: names, stepTimeoutMs: 60_000, probeTimeoutMs: 2000 });
      for (const c of r.cases) expect(c.status, formatCase(c)).toBe('pass');
    }, 420_000);

    it('a deleted service leaves no VIP, IPVS service or NAT rule behind', async () => {
      const ip = await vip('web');
      await lab.client.delete(R.services, 'default', 'web');
      for (const node of ['lab-node-1', 'lab-node-2']) {
        await waitFor(`${node} forgets ${ip}, 192.0.2.10 and :30080`, async () => {
          const s = await labSh(lab, node, 'ip -o addr show dev kube-dummy-if; ipvsadm -Ln; iptables-save -t nat');
          return !s.includes(`${ip} `) && !s.includes(`${ip}/`) && !s.includes(`${ip}:`) && !s.includes('192.0.2.10') && !s.includes(':30080') && s;
        }, 60_000, 500);
      }
    }, 150_000);
  });
}

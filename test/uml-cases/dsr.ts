// DSR (kube-router.io/service.dsr=tunnel) end to end, in the UML proxy lab (--full tier, run from
// test/uml-cases/proxy.ts while its pods are as created: web-1 and web-3 on lab-node-1, web-2 on lab-node-2).
// A client outside the pod network (its own namespace on the underlay, routing the external IP to node 1)
// reaches the external IP; node 1's IPVS serves a fwmark service in tunnel mode; the pods answer directly:
// the backend sees the client's own address and, for web-2, the reply leaves node 2 from the VIP without
// passing node 1. Node 2's agent, restarted on the ipvsadm fallback, adopts what the netlink writer made
// without an IPVS operation. Removing the annotation removes every trace (node 2 through ipvsadm -R, node 1
// over netlink); the service is then served in NAT mode.
import { readFile } from 'node:fs/promises';
import { expect, type it } from 'vitest';
import { lastSyncOf } from '../../src/lab/health.js';
import type { Lab } from '../../src/lab/index.js';
import { R } from '../../src/lab/kube.js';
import { waitFor } from '../../src/testing/wait.js';
import { labSh } from '../lab-helpers.js';
import { restartAgent } from './restart.js';

const VIP = '192.0.2.20';
const CLIENT = '172.20.0.50';
const ANNOTATION = 'kube-router.io/service.dsr';
const PIDFILE = '/run/krt-dsr-client.pid';

/** Everything DSR leaves on a node or in a pod, as one text (empty when there is none). */
const dsrTraces = (lab: Lab, node: string) =>
  labSh(lab, node, `ipvsadm -Sn | grep -- '-f ' ; ip rule | grep -E 'lookup (78|79)' ; ip route show table 78 2>/dev/null; ip route show table 79 2>/dev/null; iptables-save -t mangle | grep -E 'DSR|MARK|TCPMSS' ; true`);
const tunnelIf = (lab: Lab, pod: string) => labSh(lab, pod, 'ip -o link show kube-tunnel-if 2>/dev/null; ip -o addr show dev kube-tunnel-if 2>/dev/null; true');

/** The series of one metric for the DSR service's port 80 (the fwmark service, labelled as its VIP), or undefined. */
const dsrSeries = (text: string, metric: string) =>
  text.split('\n').find((l) => l.startsWith(`kube_router_${metric}{svc_namespace="default",service_name="dsr",service_vip="${VIP}",protocol="tcp",port="80"} `));

export function dsrCase(test: typeof it, getLab: () => Lab, o: { n1: string; n2: string; metrics: (node: string, addr: string) => Promise<string> }): void {
  test('DSR: an outside client reaches a service.dsr=tunnel external IP through IPIP, answered straight from the pods; removing the annotation removes every trace', async () => {
    const lab = getLab();
    // The outside client: a namespace held by a process (the lab's exec remounts per call, so not a named one), on br0.
    await labSh(lab, 'hub', `setsid unshare --net sh -c 'echo $$ > ${PIDFILE}; exec sleep 1200' </dev/null >/dev/null 2>&1 & sleep 0.5`);
    const pid = (await labSh(lab, 'hub', `cat ${PIDFILE}`)).trim();
    const inClient = (script: string) => labSh(lab, 'hub', `nsenter --net=/proc/${pid}/ns/net sh -c '${script.replace(/'/g, `'\\''`)}'`);
    let writerChanged = false;
    let rpFilter = async () => '';
    let rpBefore: string | undefined;
    const node2Log = lab.state.nodes.find((n) => n.name === 'lab-node-2')!.log;
    /** Restarts node 2's agent with env changes; resolves once its proxy synced, with the restart time. */
    const restartNode2 = async (env: Record<string, string | null>) => {
      const at = Date.now();
      await restartAgent(lab, 'lab-node-2', env);
      await waitFor('the new agent on node 2 synced its proxy', async () => {
        const h = (await lab.health())['lab-node-2'];
        return Boolean(h?.ok && (lastSyncOf(h, 'proxy')?.at ?? 0) > at);
      }, 180_000, 1000);
      return at;
    };
    /**
     * Node 2's agent log since `t`: how many lines it wrote (so the check is not vacuous) and its proxy syncs
     * that wrote IPVS ("in sync" ones are logged below info).
     */
    const proxyLogSince = async (t: number) => {
      const lines = (await readFile(node2Log, 'utf8')).split('\n').flatMap((l) => {
        try {
          const e = JSON.parse(l) as { msg?: string; time?: string; ipvsCommands?: number };
          return new Date(e.time ?? 0).getTime() > t ? [e] : [];
        } catch {
          return [];
        }
      });
      return { lines: lines.length, ipvsWrites: lines.filter((e) => e.msg === 'service proxy synced' && (e.ipvsCommands ?? 0) > 0) };
    };
    try {
      // web-2's reverse-path filter strict: loosened while it serves DSR, strict again after (across node 2's restart).
      rpFilter = async () => (await labSh(lab, 'default/web-2', 'cat /proc/sys/net/ipv4/conf/all/rp_filter')).trim();
      rpBefore = await rpFilter();
      await labSh(lab, 'default/web-2', 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter');
      await labSh(lab, 'hub', `ip link add vdsr type veth peer name eth0 netns ${pid} && ip link set vdsr master br0 up`);
      await inClient(`ip link set lo up && ip addr add ${CLIENT}/24 dev eth0 && ip link set eth0 up && ip route add ${VIP}/32 via ${o.n1}`);

      await lab.client.create(R.services, 'default', {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'dsr', namespace: 'default', annotations: { [ANNOTATION]: 'tunnel' } },
        spec: { selector: { app: 'web' }, externalIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }, { name: 'peer', port: 8080, targetPort: 8080, protocol: 'TCP' }] },
      });
      const table = await waitFor('a fwmark service with 3 tunnel destinations per port on node 1', async () => {
        const t = await labSh(lab, 'lab-node-1', 'ipvsadm -Ln');
        return (t.match(/-> 10\.244\.\d+\.\d+:(80|8080)\s+Tunnel\s+1/g) ?? []).length === 6 && t;
      }, 90_000, 500);
      expect(table).toMatch(/FWM {2}\d+ rr/);
      expect(await labSh(lab, 'lab-node-1', 'ip -o addr show dev kube-dummy-if')).not.toContain(VIP); // VIP-less director
      for (const pod of ['default/web-1', 'default/web-3']) {
        await waitFor(`${pod} holds ${VIP} on kube-tunnel-if`, async () => (await tunnelIf(lab, pod)).includes(`inet ${VIP}/32`), 60_000, 500);
      }
      await waitFor('default/web-2 holds the VIP on kube-tunnel-if', async () => (await tunnelIf(lab, 'default/web-2')).includes(`inet ${VIP}/32`), 60_000, 500);
      expect(await rpFilter()).toBe('2');

      // Local (web-1, web-3) and remote (web-2) backends answer the outside client.
      const ask = (n: number) => inClient(`for i in $(seq 1 ${n}); do socat -T2 - TCP:${VIP}:80,connect-timeout=2 </dev/null 2>/dev/null || echo none; done`).then((t) => t.split('\n').filter(Boolean));
      const names = await waitFor('every backend answers through DSR', async () => {
        const got = await ask(6);
        return ['web-1', 'web-2', 'web-3'].every((n) => got.includes(n)) && got;
      }, 60_000, 500);
      expect(names.every((n) => n.startsWith('web-'))).toBe(true);
      // Node 1 (netlink reads) counts those connections under the fwmark service, labelled with the VIP
      // (the kernel folds its counters into what a read sees every 2 s: scrape until they show).
      let n1Conns: string | undefined;
      await waitFor('node 1 counts the DSR connections', async () => {
        n1Conns = dsrSeries(await o.metrics('lab-node-1', o.n1), 'service_total_connections');
        return Number(n1Conns?.split(' ').pop()) >= 3;
      }, 30_000, 1000).catch(() => undefined);
      expect(Number(n1Conns?.split(' ').pop()), n1Conns ?? 'no series for the DSR service on node 1').toBeGreaterThanOrEqual(3);

      // web-2 (node 2) sees the client's own address, and its SYN-ACK leaves node 2 from the VIP.
      const dump = lab.exec('lab-node-2', ['sh', '-c', `timeout 60 tcpdump -lni eth0 -c 1 'src host ${VIP} and src port 8080 and dst host ${CLIENT} and tcp[13] & 18 == 18' 2>/dev/null`]);
      const server = lab.exec('default/web-2', ['sh', '-c', `timeout 60 socat -T5 -t5 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR'`]);
      await new Promise((r) => setTimeout(r, 2000));
      // Connections rotate over the three pods; only web-2 listens on 8080 (the others reset).
      const peer = await inClient(`for i in $(seq 1 30); do o=$(socat -T5 -t5 - TCP:${VIP}:8080,connect-timeout=2 </dev/null 2>/dev/null); [ -n "$o" ] && { echo "$o"; exit 0; }; sleep 0.3; done; echo none`);
      expect(peer.trim()).toBe(CLIENT);
      const [d] = await Promise.all([dump, server]);
      expect(d.stdout).toContain(`${VIP}.8080 > ${CLIENT}.`);

      // A restarted agent adopts the DSR state as it finds it: the pod's tunnel interface is not recreated,
      // and the fwmark service the netlink writer made reads back through the other writer (ipvsadm -S -n)
      // as planned: its syncs make no IPVS operation. Node 2 then removes DSR with ipvsadm -R, node 1 over netlink.
      const before = (await tunnelIf(lab, 'default/web-2')).split(':')[0];
      const restartedAt = await restartNode2({ KRT_IPVS_WRITER: 'ipvsadm' });
      writerChanged = true;
      expect((await tunnelIf(lab, 'default/web-2')).split(':')[0]).toBe(before);
      const since = await proxyLogSince(restartedAt);
      expect(since.lines).toBeGreaterThan(0);
      expect(since.ipvsWrites).toEqual([]);
      // Node 2's agent now reads IPVS statistics with ipvsadm (its FWM lines): the fwmark service has its series there too.
      expect(dsrSeries(await o.metrics('lab-node-2', o.n2), 'service_total_connections'), 'no series for the DSR service on node 2').toBeDefined();

      // Without the annotation: no fwmark service, mark, rule, route or pod tunnel on either node; NAT mode.
      await lab.client.modify(R.services, 'default', 'dsr', (s) => void delete s['metadata']['annotations'][ANNOTATION]);
      for (const node of ['lab-node-1', 'lab-node-2']) {
        await waitFor(`${node} has no DSR trace`, async () => (await dsrTraces(lab, node)).trim() === '', 90_000, 1000);
      }
      for (const pod of ['default/web-1', 'default/web-2', 'default/web-3']) {
        await waitFor(`${pod} has no kube-tunnel-if`, async () => (await tunnelIf(lab, pod)).trim() === '', 60_000, 1000);
      }
      expect(await rpFilter()).toBe('1');
      expect(await labSh(lab, 'lab-node-1', 'ip -o addr show dev kube-dummy-if')).toContain(`${VIP}/32`);
      await waitFor('NAT mode answers the client', async () => (await ask(3)).every((n) => n.startsWith('web-')), 60_000, 500);
    } finally {
      await lab.client.delete(R.services, 'default', 'dsr').catch(() => undefined);
      await labSh(lab, 'hub', `kill ${pid}; rm -f ${PIDFILE}`).catch(() => undefined);
      if (rpBefore !== undefined) await labSh(lab, 'default/web-2', `echo ${rpBefore} > /proc/sys/net/ipv4/conf/all/rp_filter`).catch(() => undefined);
      // Back to the netlink writer for the cases that follow.
      if (writerChanged) await restartNode2({ KRT_IPVS_WRITER: null }).catch(() => undefined);
    }
  }, 480_000);
}

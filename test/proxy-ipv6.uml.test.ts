// IPv6 / dual-stack services on real IPVS (user-mode Linux; this host kernel has none): the proxy controller
// under --enable-ipv6 on a dual-stack node (test/uml-cases/proxy-ipv6-check.mjs runs it inside UML) serves a
// dual-stack NodePort Service. A client namespace reaches two IPv6 backends over TCP and UDP through the IPv6
// ClusterIP and through a NodePort on the node's IPv6 address, round robin; pod traffic keeps the client's
// address, traffic to another node's pods is masqueraded to the node's IPv6 address; a backend reaching
// itself through the service is hairpin-NATed; deleting the service leaves no VIP, IPVS service or
// ip6tables rule of it, and --cleanup-config removes the rest. One UML boot.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT as ROOT, runUmlCheck, umlInstalled, type UmlCheck } from '../src/testing/uml/check.js';

const CHECK = join(__dirname, 'uml-cases', 'proxy-ipv6-check.mjs');
const built = existsSync(join(ROOT, 'dist', 'controllers', 'proxy', 'controller.js'));
const MODULES = [
  'ipv6', 'dummy', 'veth', 'ip_vs', 'ip_vs_rr', 'xt_ipvs', 'xt_comment', 'xt_set', 'xt_nat', 'ip_set_hash_ip', 'ip_set_hash_ipport',
  'iptable_nat', 'iptable_filter', 'iptable_mangle', 'ip6table_nat', 'ip6table_filter', 'ip6t_REJECT', 'ipt_REJECT',
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Found = any;

const VIP6 = 'fd00:10:96::a';
const CLIENT = 'fd00:1::2';
const NODE6 = 'fd00:1::1';

/** Answers "b1 <source>" -> how many per backend, and every source seen. */
const tally = (answers: string[]) => {
  const per: Record<string, number> = {};
  const sources = new Set<string>();
  for (const a of answers) {
    const [name, src] = a.split(' ');
    per[name!] = (per[name!] ?? 0) + 1;
    sources.add(src ?? a);
  }
  return { per, sources: [...sources] };
};

// --full tier (KRT_UML_FULL=1): ~35 s of checks inside UML and ~70 s in all on 2 cores, above what the
// default run may add.
describe.skipIf(!umlInstalled() || !built || !process.env['KRT_UML_FULL'])('IPv6 / dual-stack services in user-mode Linux: real traffic', () => {
  let run: UmlCheck | undefined;
  let found: Found;

  beforeAll(() => {
    run = runUmlCheck({ prefix: '.uml-proxy-ipv6-', modules: MODULES, check: CHECK, args: (dir) => [dir], memMB: 768, timeoutMs: 170_000 });
    found = run.found();
    if (found.error) throw new Error(`the check inside UML failed: ${found.error}\n${run.log('inner.log')}\nagent log (end):\n${run.log('agent.log', 4000)}`);
  }, 200_000);

  afterAll(() => run?.remove());

  it('holds the IPv6 VIP on kube-dummy-if as /128 with a local route from the node IPv6 address, and turns on IPv6 forwarding', () => {
    const k = found.steps.served;
    expect(k.dummy).toEqual(expect.arrayContaining([`inet6 ${VIP6}/128`, 'inet 10.96.0.10/32']));
    // One route: ours with the source in place of the kernel's own, not a second one the kernel's outranks.
    expect(k.localRoutes6).toHaveLength(1);
    expect(k.localRoutes6[0]).toMatch(new RegExp(`^local ${VIP6} dev kube-dummy-if proto kernel src ${NODE6} `));
    expect(k.forwarding6).toBe('1');
    // So a connection from the node to the VIP leaves from the node's address (kube-router #376).
    expect(k.fromNode).toEqual([expect.stringMatching(new RegExp(`^b[12] ${NODE6}$`))]);
  });

  it('programs IPVS for the IPv6 ClusterIP and the IPv6 NodePort, beside the IPv4 ones', () => {
    const k = found.steps.served;
    for (const vs of [`-A -t [${VIP6}]:80 -s rr`, `-A -u [${VIP6}]:53 -s rr`, `-A -t [${NODE6}]:30080 -s rr`, `-A -u [${NODE6}]:30053 -s rr`, '-A -t 10.96.0.10:80 -s rr', '-A -t 192.168.1.1:30080 -s rr']) {
      expect(k.ipvs).toContain(vs);
    }
    for (const b of ['fd00:244:1::2', 'fd00:244:2::2']) expect(k.ipvs).toContain(`-a -t [${VIP6}]:80 -r [${b}]:8080 -m -w 1`);
  });

  it('IPv6 ClusterIP and NodePort deliver TCP and UDP round robin across both backends, keeping the client address for pod traffic', () => {
    const a: string[] = found.steps.served.answers;
    for (const group of [a.slice(0, 4), a.slice(4, 8), a.slice(8, 12), a.slice(12, 16)]) {
      expect(tally(group)).toEqual({ per: { b1: 2, b2: 2 }, sources: [CLIENT] });
    }
  });

  it('the IPv4 side of the dual-stack service answers too, and the IPv6 VIP firewall refuses a port the service does not serve', () => {
    const a: string[] = found.steps.served.answers;
    expect(a[16]).toMatch(/^b[12] 192\.168\.1\.2$/);
    expect(a[17]).toBe('error ECONNREFUSED');
    expect(found.steps.served.filter6).toEqual(expect.arrayContaining([expect.stringContaining('-A KUBE-ROUTER-SERVICES -m set --match-set inet6:kube-router-svip-prt dst,dst')]));
    expect(found.steps.served.svipPrt6).toEqual(expect.arrayContaining([`${VIP6},tcp:80`, `${VIP6},udp:53`, `${NODE6},tcp:30080`]));
  });

  it('service metrics carry the IPv6 VIP and NodePort address and count the connections', () => {
    const m: string[] = found.steps.served.metrics;
    const conns = (vip: string, proto: string, port: number) =>
      Number(m.find((l) => l.includes(`service_vip="${vip}"`) && l.includes(`protocol="${proto}"`) && l.includes(`port="${port}"`))?.split(' ').at(-1));
    expect(conns(VIP6, 'tcp', 80)).toBeGreaterThanOrEqual(4);
    expect(conns(VIP6, 'udp', 53)).toBeGreaterThanOrEqual(4);
    expect(conns(NODE6, 'tcp', 30080)).toBe(4);
  });

  it('hairpin: a backend reaching itself through the IPv6 ClusterIP sees the VIP as the source', () => {
    const h: string[] = found.steps.served.hairpin;
    expect(h.sort()).toEqual([`b1 ${VIP6}`, 'b2 fd00:244:1::2']);
    expect(found.steps.served.nat6).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^-A KUBE-ROUTER-IPVS-NAT -s fd00:244:1::2/128 -d fd00:244:1::2/128 -p tcp -m ipvs --vaddr ${VIP6} --vport 80 .*-j SNAT --to-source ${VIP6}$`))]));
  });

  it('the ip6tables NAT chain has the IPv4 chain\'s layout; traffic to pods outside this node is masqueraded to the node IPv6 address', () => {
    const nat6: string[] = found.steps.masquerade.nat6;
    const nat4: string[] = found.steps.masquerade.nat4;
    const shape = (rules: string[]) => rules.filter((r) => r.startsWith('-A POSTROUTING') || r.includes('masquerade')).map((r) => r.replace(/--to-source \S+/, '--to-source X'));
    expect(shape(nat6)).toEqual(shape(nat4));
    expect(nat6).toContain(`-A KUBE-ROUTER-IPVS-NAT -s fd00:245::/64 -j RETURN`);
    expect(nat6.some((r) => r.includes('--vmethod MASQ') && r.endsWith(`-j SNAT --to-source ${NODE6}`))).toBe(true);
    const t = tally(found.steps.masquerade.answers);
    expect(t).toEqual({ per: { b1: 2, b2: 2 }, sources: [NODE6] });
  });

  it('a deleted service leaves no VIP, local route, IPVS service, set entry or ip6tables rule of it', () => {
    const k = found.steps.deleted;
    expect(k.dummy.filter((l: string) => !l.includes('fe80'))).toEqual([]);
    expect(k.localRoutes6).toEqual([]);
    expect(k.ipvs).toEqual([]);
    expect(k.svipPrt6).toEqual([]);
    expect(k.nat6.filter((r: string) => r.includes('hairpin') || r.includes(VIP6))).toEqual([]);
    expect(k.answers[0]).not.toMatch(/^b[12]/);
  });

  it('cleanup removes the proxy\'s IPv6 side: link, IPVS, ip6tables chains and inet6 sets', () => {
    const k = found.steps.cleaned;
    expect(k.dummy).toEqual([]);
    expect(k.ipvs).toEqual([]);
    expect(k.nat6.filter((r: string) => r.includes('KUBE-ROUTER'))).toEqual([]);
    expect(k.filter6.filter((r: string) => r.includes('KUBE-ROUTER-SERVICES'))).toEqual([]);
    expect(k.sets.filter((s: string) => s.startsWith('inet6:') || s.startsWith('kube-router-'))).toEqual([]);
  });
});

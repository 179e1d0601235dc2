// The reads of ip.ts answered over rtnetlink (commands that run here) against the same reads through `ip -j`,
// in one namespace holding what the router and proxy read: links of several kinds (bridges, veths; the
// host has no ipip or dummy, so a tunnel's ends are read in rtnl-read.test.ts and the UML labs), IPv4 and IPv6 addresses (a peer address, link scope), proto-17 routes in the
// main table and table 77 (via a gateway, through a device with a source, a blackhole, a host route, IPv6),
// policy rules with and without a source. Every field the callers use must read the same both ways.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../testing/firewall/netns.js';

const pexec = promisify(execFile);
const netns = new Netns('krt-iphere-');
afterAll(async () => {
  await netns.destroyAll();
});

type Both = { here: unknown; ip: unknown };
let got: Record<string, Both>;

const pick = (o: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
const ROUTE_KEYS = ['dst', 'gateway', 'dev', 'prefsrc'];

beforeAll(async () => {
  const ns = await netns.add('n');
  const node = netns.exec(ns);
  await node('ip', ['-batch', '-'], {
    input: [
      'link add kube-bridge type bridge', 'addr add 10.244.0.1/24 dev kube-bridge', 'link set kube-bridge up',
      'link add eth0 type veth peer name eth1', 'addr add 172.20.0.11/24 dev eth0', 'addr add fd00:20::11/64 dev eth0', 'link set eth0 up', 'link set eth1 up',
      'addr add 10.9.0.1 peer 10.9.0.2/32 dev eth1',
      'link add kube-other type bridge', 'addr add 10.96.0.10/32 dev kube-other',
      'route add 10.244.1.0/24 via 172.20.0.12 proto 17', 'route add 10.244.2.0/24 dev eth1 src 172.20.0.11 proto 17',
      'route add blackhole 10.244.3.0/24 proto 17', 'route add 10.244.4.7 dev eth0 proto 17',
      'route add 10.244.2.0/24 dev eth1 table 77 proto 17', 'route add 192.168.0.0/16 via 172.20.0.12',
      'route add fd00:244:1::/64 via fd00:20::12 proto 17',
      'rule add from 10.244.0.0/24 lookup 77 prio 100', 'rule add from 10.244.9.9 lookup 77', 'rule add fwmark 0x7b lookup 78 prio 32764',
      '',
    ].join('\n'),
  });
  await node('ip', ['-6', 'rule', 'add', 'from', 'fd00:244::/56', 'lookup', '77']);
  const { stdout } = await pexec('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'src/testing/ip/reads-both-ways.ts', '17', '77'], { timeout: 60_000 });
  got = JSON.parse(stdout) as Record<string, Both>;
});

describe('ip.ts reads over rtnetlink read as `ip -j` does', () => {
  it('addresses per link: name, MTU, flags, and each address with family, prefix and scope', () => {
    const ip = (got.addresses!.ip as Record<string, unknown>[]).map((l) => ({
      ...pick(l, ['ifname', 'mtu', 'flags']),
      addr_info: ((l.addr_info ?? []) as Record<string, unknown>[]).map((a) => pick(a, ['family', 'local', 'prefixlen', 'scope'])),
    }));
    expect(got.addresses!.here).toEqual(ip);
    expect(JSON.stringify(ip)).toContain('"local":"10.9.0.1"');
  });

  it('links: names and kinds', () => {
    expect(got.links!.here).toEqual(got.links!.ip);
    expect(got.links!.here).toContainEqual({ ifname: 'kube-bridge', kind: 'bridge' });
  });

  it('rules of both families: priority, source as printed, table by name or number', () => {
    for (const k of ['rules4', 'rules6']) {
      const ip = (got[k]!.ip as Record<string, unknown>[]).map((r) => pick(r, ['priority', 'src', 'srclen', 'table']));
      expect(got[k]!.here).toEqual(ip);
    }
    expect(got.rules4!.here).toContainEqual({ priority: 100, src: '10.244.0.0', srclen: 24, table: '77' });
  });

  it('proto-17 routes of the main table and table 77, and a table never used as empty', () => {
    for (const k of ['main4', 'main6', 'table4', 'missingTable']) {
      const ip = (got[k]!.ip as Record<string, unknown>[]).map((r) => pick(r, ROUTE_KEYS));
      expect(got[k]!.here).toEqual(ip);
    }
    expect((got.main4!.here as unknown[]).length).toBe(4);
    expect(got.missingTable!.here).toEqual([]);
  });

  it("the route state of every table (with `ip -d`'s table names) and the links beside it", () => {
    for (const k of ['state4', 'state6']) {
      const { here, ip } = got[k] as { here: { routes: Record<string, unknown>[]; links: unknown[] }; ip: { routes: Record<string, unknown>[] } };
      expect(here.routes.map((r) => ({ ...pick(r, ROUTE_KEYS), table: r.table === 'main' ? undefined : r.table }))).toEqual(
        ip.routes.map((r) => ({ ...pick(r, ROUTE_KEYS), table: r.table === 'main' ? undefined : r.table })),
      );
    }
    expect((got.state4!.here as { links: unknown[] }).links.length).toBeGreaterThan(4);
  });
});

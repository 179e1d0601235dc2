// Every flag and default against kube-router's own list. The expectations are transcribed from
// kube-router v2.11 pkg/options/options.go (as summarized in the project reference, section 2); when that
// reference file is present the test also reads it directly, so the transcription cannot drift either.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FlagSpec } from './flag-spec.js';
import { FLAGS } from './flags.js';

const TABLE: readonly FlagSpec[] = FLAGS;

/** kube-router's flags and defaults as written on a command line ("" = empty string or empty list). */
const KUBE_ROUTER_DEFAULTS: Readonly<Record<string, string>> = {
  'run-router': 'true', 'run-firewall': 'true', 'run-service-proxy': 'true', 'run-loadbalancer': 'false',
  'enable-cni': 'true', 'enable-ipv4': 'true', 'enable-ipv6': 'false', kubeconfig: '', master: '',
  'hostname-override': '', 'cache-sync-timeout': '1m', 'cleanup-config': 'false', 'health-addr': '',
  'health-port': '20244', 'metrics-addr': '', 'metrics-port': '0', 'metrics-path': '/metrics',
  'enable-pprof': 'false', v: '0', version: 'false', help: 'false',
  'iptables-sync-period': '5m', 'netpol-default-deny': 'false', 'use-nftables-for-netpol': 'false',
  'service-cluster-ip-range': '10.96.0.0/12', 'service-external-ip-range': '', 'loadbalancer-ip-range': '',
  'service-node-port-range': '30000-32767',
  'ipvs-sync-period': '5m', 'ipvs-graceful-termination': 'false', 'ipvs-graceful-period': '30s',
  'ipvs-permit-all': 'true', 'masquerade-all': 'false', 'hairpin-mode': 'false', 'nodeport-bindon-all-ip': 'false',
  'excluded-cidrs': '', 'runtime-endpoint': '', 'service-tcp-timeout': '0s', 'service-tcpfin-timeout': '0s',
  'service-udp-timeout': '0s', 'strict-external-ip-validation': 'true',
  'advertise-cluster-ip': 'false', 'advertise-external-ip': 'false', 'advertise-loadbalancer-ip': 'false',
  'advertise-pod-cidr': 'true', 'auto-mtu': 'true', 'bgp-graceful-restart': 'false',
  'bgp-graceful-restart-time': '90s', 'bgp-graceful-restart-deferral-time': '360s', 'bgp-holdtime': '90s',
  'bgp-port': '179', 'cluster-asn': '0', 'enable-ibgp': 'true', 'nodes-full-mesh': 'true', 'enable-overlay': 'true',
  'overlay-type': 'subnet', 'overlay-encap': 'ipip', 'overlay-encap-port': '5555', 'enable-pod-egress': 'true',
  'override-nexthop': 'false', 'peer-router-ips': '', 'peer-router-asns': '', 'peer-router-ports': '',
  'peer-router-passwords': '', 'peer-router-passwords-file': '', 'peer-router-multihop-ttl': '0', 'router-id': '',
  'routes-sync-period': '5m', 'injected-routes-sync-period': '60s', 'disable-source-dest-check': 'true',
  'gobgp-admin-address': '127.0.0.1', 'gobgp-admin-port': '50051', 'enable-bfd': 'false', 'bfd-port': '3784',
  'bfd-detection-multiplier': '3', 'bfd-desired-min-tx-interval': '1000ms', 'bfd-required-min-rx-interval': '1000ms',
  'loadbalancer-default-class': 'true', 'loadbalancer-sync-period': '1m',
};

describe('flag table vs kube-router', () => {
  it('has exactly the flags of kube-router, each once', () => {
    const names = TABLE.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(KUBE_ROUTER_DEFAULTS).sort());
  });

  it.each(TABLE.map((f) => [f.name, f.default] as const))('--%s defaults to %j', (name, def) => {
    expect(def).toBe(KUBE_ROUTER_DEFAULTS[name]);
  });

  it('has the short aliases -v, -V and -h', () => {
    expect(Object.fromEntries(TABLE.filter((f) => f.short).map((f) => [f.short, f.name]))).toEqual({ v: 'v', V: 'version', h: 'help' });
  });

  it('keeps kube-router bounds', () => {
    const spec = (n: string) => TABLE.find((f) => f.name === n)!;
    expect([spec('bgp-holdtime').min, spec('bgp-holdtime').max]).toEqual(['3s', '18h12m16s']);
    expect(spec('bgp-graceful-restart-time').max).toBe('4095s');
    expect(spec('bgp-graceful-restart-deferral-time').max).toBe('18h');
    expect(spec('overlay-encap-port').min).toBe(1024);
    expect(spec('service-cluster-ip-range').maxItems).toBe(2);
  });
});

const REFERENCE = '/work/shared/reference/kube-router.md';

/** Pulls `--name` default pairs out of the prose of section 2 ("`--a` / `--b` 0s", "`--x` **true**", "`--t` subnet|full"). */
function referenceDefaults(text: string): Map<string, string> {
  const start = text.indexOf('## 2.');
  const section = text.slice(start, text.indexOf('\n## 3.', start));
  const out = new Map<string, string>();
  const re = /((?:`-{1,2}[A-Za-z0-9-]+(?:\/-{1,2}[A-Za-z0-9-]+)?`\s*\/\s*)*`-{1,2}[A-Za-z0-9-]+(?:\/-{1,2}[A-Za-z0-9-]+)?`)\s*([^,(;`\n]*)/g;
  for (const m of section.matchAll(re)) {
    const names = [...m[1]!.matchAll(/`([^`]+)`/g)].map((n) => n[1]!.split('/').pop()!.replace(/^-+/, ''));
    // The default is the first word after the name(s), minus bold and a sentence's full stop.
    let value = (m[2]!.trim().split(/\s+/)[0] ?? '').replace(/\*\*/g, '').replace(/\.$/, '');
    if (value === '""' || value === '[]') value = '';
    value = value.replace(/^\[(.*)\]$/, '$1').replace(/^"(.*)"$/, '$1');
    if (/^(subnet|ipip)\|/.test(value)) value = value.split('|')[0]!;
    for (const n of names) if (!out.has(n) || out.get(n) === '') out.set(n, value);
  }
  return out;
}

describe.skipIf(!existsSync(REFERENCE))('flag table vs the reference file', () => {
  const ref = existsSync(REFERENCE) ? referenceDefaults(readFileSync(REFERENCE, 'utf8')) : new Map<string, string>();

  it('finds every reference flag in the table', () => {
    expect(ref.size).toBe(79);
    const names = new Set(TABLE.map((f) => f.name));
    expect([...ref.keys()].filter((n) => !names.has(n))).toEqual([]);
  });

  it('matches each stated default', () => {
    const mismatches: string[] = [];
    for (const [name, value] of ref) {
      const spec = TABLE.find((f) => f.name === name);
      // Some entries carry no default in the prose (a bare mention such as "`--loadbalancer-ip-range`.").
      if (!spec || value === '' || spec.action) continue;
      if (spec.default !== value) mismatches.push(`${name}: table ${JSON.stringify(spec.default)} vs reference ${JSON.stringify(value)}`);
    }
    expect(mismatches).toEqual([]);
  });
});

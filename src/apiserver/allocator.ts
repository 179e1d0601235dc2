// ClusterIP and NodePort allocation. State is derived from the stored Services (record/forget on commit),
// so a restart that reloads the data file rebuilds it and nothing can leak.
import { cidrContainsIP, cidrSize, formatCIDR, parseCIDR, type ParsedCIDR } from '../model/normalize/cidr.js';
import { bigIntToIP, formatIP, ipToBigInt, parseIP, type IPTextStyle } from '../model/normalize/ip.js';
import type { KubeObject } from './selectors.js';

/** One spelling for allocation keys and messages; IPv4-mapped addresses have always come out in hextets. */
const TEXT: IPTextStyle = { dottedMapped: false };

export class ServiceAllocator {
  readonly cidrs: ParsedCIDR[];
  readonly portMin: number;
  readonly portMax: number;
  private readonly ips = new Map<string, string>(); // ip -> owner "ns/name"
  private readonly ports = new Map<number, string>();
  private readonly cursor = new Map<number, bigint>();
  private portCursor: number;

  constructor(serviceCIDR = '10.96.0.0/12', nodePortRange = '30000-32767') {
    this.cidrs = serviceCIDR.split(',').map((s) => {
      const c = parseCIDR(s.trim());
      if (!c) throw new Error(`invalid service CIDR ${JSON.stringify(s)}`);
      return c;
    });
    if (this.cidrs.length > 2 || (this.cidrs.length === 2 && this.cidrs[0]!.family === this.cidrs[1]!.family))
      throw new Error('service CIDR: at most one IPv4 and one IPv6 range');
    const m = /^(\d+)-(\d+)$/.exec(nodePortRange.trim());
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) throw new Error(`invalid node port range ${nodePortRange}`);
    this.portMin = Number(m[1]);
    this.portMax = Number(m[2]);
    this.portCursor = this.portMin;
  }

  families(): ('IPv4' | 'IPv6')[] {
    return this.cidrs.map((c) => (c.family === 4 ? 'IPv4' : 'IPv6'));
  }

  cidrFor(family: 'IPv4' | 'IPv6'): ParsedCIDR | undefined {
    return this.cidrs.find((c) => (c.family === 4) === (family === 'IPv4'));
  }

  /** Why `ip` cannot be given to `owner`, or undefined when it can. */
  ipProblem(ip: string, owner: string): string | undefined {
    const p = parseIP(ip);
    if (!p) return 'must be a valid IP address';
    const c = this.cidrs.find((x) => cidrContainsIP(x, p));
    if (!c) return `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.cidrs.map((x) => formatCIDR(x, TEXT)).join(',')}`;
    const canonical = formatIP(p, TEXT);
    const holder = this.ips.get(canonical);
    if (holder !== undefined && holder !== owner) return 'provided IP is already allocated';
    return undefined;
  }

  nextIP(family: 'IPv4' | 'IPv6'): string | undefined {
    const c = this.cidrFor(family);
    if (!c) return undefined;
    const size = cidrSize(c);
    // Skip the network address and the first host (kept for the `kubernetes` Service), and v4 broadcast.
    const first = 2n;
    const last = c.family === 4 ? size - 2n : size - 1n;
    if (last < first) return undefined;
    const span = last - first + 1n;
    const limit = span < 1_000_000n ? span : 1_000_000n;
    const base = ipToBigInt(c);
    const off = this.cursor.get(c.family) ?? 0n;
    for (let i = 0n; i < limit; i++) {
      const ip = formatIP(bigIntToIP(base + first + ((off + i) % span), c.family)!, TEXT);
      if (!this.ips.has(ip)) {
        this.cursor.set(c.family, (off + i + 1n) % span);
        return ip;
      }
    }
    return undefined;
  }

  portProblem(port: number, owner: string): string | undefined {
    if (port < this.portMin || port > this.portMax) return `provided port is not in the valid range. The range of valid ports is ${this.portMin}-${this.portMax}`;
    const holder = this.ports.get(port);
    if (holder !== undefined && holder !== owner) return 'provided port is already allocated';
    return undefined;
  }

  nextPort(taken: Set<number>): number | undefined {
    const span = this.portMax - this.portMin + 1;
    for (let i = 0; i < span; i++) {
      const p = this.portMin + ((this.portCursor - this.portMin + i) % span);
      if (!this.ports.has(p) && !taken.has(p)) {
        this.portCursor = p + 1 > this.portMax ? this.portMin : p + 1;
        return p;
      }
    }
    return undefined;
  }

  record(svc: KubeObject): void {
    const owner = ownerOf(svc);
    for (const ip of svcIPs(svc)) this.ips.set(ip, owner);
    for (const p of svcNodePorts(svc)) this.ports.set(p, owner);
  }

  forget(svc: KubeObject): void {
    const owner = ownerOf(svc);
    for (const ip of svcIPs(svc)) if (this.ips.get(ip) === owner) this.ips.delete(ip);
    for (const p of svcNodePorts(svc)) if (this.ports.get(p) === owner) this.ports.delete(p);
  }
}

export function ownerOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function svcIPs(svc: KubeObject): string[] {
  const out: string[] = [];
  const list: unknown[] = Array.isArray(svc.spec?.clusterIPs) ? svc.spec.clusterIPs : [svc.spec?.clusterIP];
  for (const ip of list) {
    const p = typeof ip === 'string' ? parseIP(ip) : undefined;
    if (p) out.push(formatIP(p, TEXT));
  }
  return out;
}

function svcNodePorts(svc: KubeObject): number[] {
  const ports: unknown[] = Array.isArray(svc.spec?.ports) ? svc.spec.ports : [];
  const out = ports.map((p) => (p as KubeObject)?.nodePort).filter((n): n is number => typeof n === 'number' && n > 0);
  const h = svc.spec?.healthCheckNodePort;
  if (typeof h === 'number' && h > 0) out.push(h);
  return out;
}

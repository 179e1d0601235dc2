// IPv4 CIDR arithmetic for the lab's node CIDR allocation and the conformance placeholders.

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${ip}`);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCIDR(cidr: string): { base: number; len: number } {
  const [ip, l] = cidr.split('/');
  const len = Number(l);
  if (!ip || !Number.isInteger(len) || len < 0 || len > 32) throw new Error(`bad CIDR ${cidr}`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (ipToInt(ip) & mask) >>> 0, len };
}

/** The canonical network of prefix `len` containing `ip`. */
export function networkOf(ip: string, len: number): string {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return `${intToIp((ipToInt(ip) & mask) >>> 0)}/${len}`;
}

export function contains(cidr: string, ip: string): boolean {
  const { base, len } = parseCIDR(cidr);
  return networkOf(ip, len) === `${intToIp(base)}/${len}`;
}

/** The k-th subnet of size `maskSize` in `cidr`, or undefined when the range is exhausted. */
export function subnet(cidr: string, maskSize: number, k: number): string | undefined {
  const { base, len } = parseCIDR(cidr);
  if (maskSize < len || maskSize > 32) throw new Error(`mask size ${maskSize} does not fit in ${cidr}`);
  const count = 2 ** (maskSize - len);
  if (k < 0 || k >= count) return undefined;
  return `${intToIp((base + k * 2 ** (32 - maskSize)) >>> 0)}/${maskSize}`;
}

/** Lowest free subnet not in `used` (canonical CIDR strings). */
export function allocate(cidr: string, maskSize: number, used: ReadonlySet<string>): string | undefined {
  for (let k = 0; ; k++) {
    const s = subnet(cidr, maskSize, k);
    if (!s) return undefined;
    if (!used.has(s)) return s;
  }
}

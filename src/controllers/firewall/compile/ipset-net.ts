// hash:net spellings and limits; the address arithmetic itself is the model's (model/normalize/cidr.ts).
import { familyBits, formatIP } from '../../../model/normalize/ip.js';
import { networkOf, type ParsedCIDR } from '../../../model/normalize/cidr.js';

/** The entry as `ipset save` prints it for hash:net: host routes lose their prefix length. */
export function ipsetNet(n: ParsedCIDR): string {
  return n.prefix === familyBits(n.family) ? formatIP(n) : n.text;
}

/** hash:net cannot hold a /0: split it into the two halves of the address space. */
export function splitZero(n: ParsedCIDR): ParsedCIDR[] {
  if (n.prefix > 0) return [n];
  const top = new Uint8Array(n.bytes.length);
  top[0] = 0x80;
  return [networkOf({ family: n.family, bytes: n.bytes }, 1)!, networkOf({ family: n.family, bytes: top }, 1)!];
}

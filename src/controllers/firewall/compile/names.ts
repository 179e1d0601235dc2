// Chain and set names, kube-router style (prefix + base32(sha256(x))[:16]) but from stable inputs only:
// no sync version, so a restarted agent computes the very names the kernel already holds.
import * as crypto from 'node:crypto';
import type { IPFamily } from '../../../model/types.js';
import type { Direction, Mark } from './plan.js';
import { memoText } from './memo-text.js';

export type { Direction } from './plan.js';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

// Node 20.12+ has the one-shot crypto.hash (no Hash object per call); older 20.x fall back.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
const sha256 = (input: string): Buffer => (oneShot ? oneShot('sha256', input, 'buffer') : crypto.createHash('sha256').update(input).digest());

/** base32(sha256(input))[:16], remembered per input (compile/memo-text.ts). */
export const hash16 = memoText((input: string): string => {
  const bytes = sha256(input);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return out;
});

export const CHAIN_INPUT = 'KUBE-ROUTER-INPUT';
export const CHAIN_FORWARD = 'KUBE-ROUTER-FORWARD';
export const CHAIN_OUTPUT = 'KUBE-ROUTER-OUTPUT';
export const CHAIN_COMMON = 'KUBE-NWPLCY-COMMON';
export const CHAIN_DEFAULT = 'KUBE-NWPLCY-DEFAULT';
export const CHAIN_TAIL = 'KUBE-NWPLCY-TAIL';

/**
 * Pod chains keep kube-router's prefix (what operators grep for), but there is one per namespace and
 * direction, shared by the namespace's local pods: KUBE-POD-FW-IN-<hash> / KUBE-POD-FW-EG-<hash>.
 */
export const POD_CHAIN_PREFIX = 'KUBE-POD-FW-';
export const POLICY_CHAIN_PREFIX = 'KUBE-NWPLCY-';
/** Per-namespace dispatch chains: one set-guarded jump per policy of the namespace. */
export const NS_INGRESS_PREFIX = 'KUBE-NS-IN-';
export const NS_EGRESS_PREFIX = 'KUBE-NS-EG-';
/** Set of a namespace's programmed local pods: the top-level chains dispatch to its pod chains by it. */
export const NS_PODS_SET_PREFIX = 'KUBE-NSP-';

/** Set by a policy rule that admits the packet; a pod chain rejects what lacks it. */
export const MARK_POLICY: Mark = { value: 0x10000, mask: 0x10000 };
/** Set at the end of a pod chain; the top-level chains accept what carries it. */
export const MARK_NETPOL_OK: Mark = { value: 0x20000, mask: 0x20000 };


export function policyChainName(namespace: string, name: string, dir: Direction): string {
  return POLICY_CHAIN_PREFIX + hash16(`policy/${namespace}/${name}/${dir}`);
}

export function namespaceChainName(namespace: string, dir: Direction): string {
  return (dir === 'ingress' ? NS_INGRESS_PREFIX : NS_EGRESS_PREFIX) + hash16(`ns/${namespace}/${dir}`);
}

/** 28 characters, iptables' limit for a chain name: the 13-character hash still carries 65 bits. */
export function namespacePodsChainName(namespace: string, dir: Direction): string {
  return `${POD_CHAIN_PREFIX}${dir === 'ingress' ? 'IN' : 'EG'}-${hash16(`nspods/${namespace}/${dir}`).slice(0, 13)}`;
}

function familyPrefix(family: IPFamily): string {
  return family === 6 ? 'inet6:' : '';
}

/** KUBE-DST- holds destinations (ingress targets, egress peers), KUBE-SRC- sources, as in kube-router. */
export function policySetName(family: IPFamily, side: 'SRC' | 'DST', key: string): string {
  return `${familyPrefix(family)}KUBE-${side}-${hash16(`${key}/${family}`)}`;
}

export function namedPortSetName(family: IPFamily, protocol: string, port: string): string {
  return policySetName(family, 'DST', `namedport/${protocol}/${port}`);
}

/** The programmed local pods of one namespace (31 characters with the inet6: prefix, ipset's limit). */
export function namespacePodsSetName(family: IPFamily, namespace: string): string {
  return `${familyPrefix(family)}${NS_PODS_SET_PREFIX}${hash16(`nspods/${namespace}/${family}`)}`;
}

/** Pods whose rules are in the kernel: the default-deny TAIL exempts them (kube-router's name). */
export function localPodsSetName(family: IPFamily): string {
  return `${familyPrefix(family)}kube-router-local-pods`;
}

/** Local pods selected by at least one policy of that direction ("isolated" in API terms). */
export function isolatedSetName(family: IPFamily, dir: Direction): string {
  return `${familyPrefix(family)}kube-router-${dir === 'ingress' ? 'in' : 'eg'}-isolated`;
}

export function tmpSetName(name: string): string {
  return `TMP-NP-${hash16(`tmp/${name}`)}`;
}

/** Everything the firewall creates, so GC and --cleanup-config touch nothing else. */
export function isOurChain(name: string): boolean {
  return (
    name === CHAIN_INPUT ||
    name === CHAIN_FORWARD ||
    name === CHAIN_OUTPUT ||
    name.startsWith(POLICY_CHAIN_PREFIX) ||
    name.startsWith(POD_CHAIN_PREFIX) ||
    name.startsWith(NS_INGRESS_PREFIX) ||
    name.startsWith(NS_EGRESS_PREFIX)
  );
}

export function isOurSet(name: string): boolean {
  const bare = name.startsWith('inet6:') ? name.slice(6) : name;
  return (
    bare.startsWith('KUBE-SRC-') ||
    bare.startsWith('KUBE-DST-') ||
    bare.startsWith('TMP-NP-') ||
    bare.startsWith(NS_PODS_SET_PREFIX) ||
    bare === 'kube-router-local-pods' ||
    bare === 'kube-router-in-isolated' ||
    bare === 'kube-router-eg-isolated'
  );
}

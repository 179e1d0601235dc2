// Parsing of kube-router's per-node BGP annotations. Every parser returns a value or an error string for
// that one annotation: a typo on one node must never stop the agent or the other nodes' peering.
import { parse as parseYaml } from 'yaml';
import { canonicalCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES, ipFamily } from '../../../model/normalize/ip.js';

export const ANN = {
  nodeAsn: 'kube-router.io/node.asn',
  rrServer: 'kube-router.io/rr.server',
  rrClient: 'kube-router.io/rr.client',
  peers: 'kube-router.io/peers',
  peerIps: 'kube-router.io/peer.ips',
  peerAsns: 'kube-router.io/peer.asns',
  peerPasswords: 'kube-router.io/peer.passwords',
  peerPorts: 'kube-router.io/peer.ports',
  peerLocalIps: 'kube-router.io/peer.localips',
  communities: 'kube-router.io/node.bgp.communities',
  prependAs: 'kube-router.io/path-prepend.as',
  prependRepeat: 'kube-router.io/path-prepend.repeat-n',
  customImportReject: 'kube-router.io/node.bgp.customimportreject',
} as const;

export interface AnnotatedPeer {
  readonly address: string;
  readonly asn: number;
  readonly port?: number;
  readonly localAddress?: string;
  readonly password?: string;
}

export type Parsed<T> = { readonly value: T; readonly errors: readonly string[] };

export function parseAsn(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 && n <= 4294967295 && n !== 23456 ? n : undefined;
}

function parsePort(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

export function decodePassword(b64: string): string | undefined {
  const t = b64.trim();
  if (t === '') return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64').toString('utf8');
}

/** Cluster ids may be given as a uint32 or a dotted quad; the speaker wants a dotted quad. */
export function parseClusterId(text: string): string | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n > 0xffffffff) return undefined;
    return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
  }
  return ipFamily(t, GO_ADDRESSES) === 4 ? t : undefined;
}

/** kube-router.io/peers: a YAML (or JSON) list of {remoteip, remoteasn, localip?, password?, port?}. */
export function parsePeersAnnotation(text: string, where: string): Parsed<AnnotatedPeer[]> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { value: [], errors: [`${where}: annotation ${ANN.peers} is not valid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  if (!Array.isArray(doc)) return { value: [], errors: [`${where}: annotation ${ANN.peers} must be a YAML list of peers`] };
  const value: AnnotatedPeer[] = [], errors: string[] = [];
  doc.forEach((entry, i) => {
    const bad = (msg: string) => errors.push(`${where}: ${ANN.peers}[${i}]: ${msg}; peer skipped`);
    if (typeof entry !== 'object' || entry === null) return bad('not a mapping');
    const e = entry as Record<string, unknown>;
    const address = String(e.remoteip ?? '').trim();
    if (!ipFamily(address, GO_ADDRESSES)) return bad(`remoteip ${JSON.stringify(e.remoteip)} is not an IP address`);
    const asn = parseAsn(String(e.remoteasn ?? ''));
    if (asn === undefined) return bad(`remoteasn ${JSON.stringify(e.remoteasn)} is not a valid AS number`);
    const peer: { -readonly [K in keyof AnnotatedPeer]: AnnotatedPeer[K] } = { address, asn };
    if (e.port !== undefined) {
      const port = parsePort(e.port);
      if (port === undefined) return bad(`port ${JSON.stringify(e.port)} is not a TCP port`);
      peer.port = port;
    }
    if (e.localip !== undefined && String(e.localip).trim() !== '') {
      const local = String(e.localip).trim();
      if (!ipFamily(local, GO_ADDRESSES)) return bad(`localip ${JSON.stringify(e.localip)} is not an IP address`);
      peer.localAddress = local;
    }
    if (e.password !== undefined && String(e.password) !== '') {
      const pw = decodePassword(String(e.password));
      if (pw === undefined) return bad('password is not valid base64');
      peer.password = pw;
    }
    value.push(peer);
  });
  return { value, errors };
}

const splitList = (t: string | undefined): string[] => (t ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

/** The deprecated parallel lists kube-router.io/peer.ips / .asns / .passwords / .ports / .localips. */
export function parseLegacyPeerAnnotations(ann: Readonly<Record<string, string>>, where: string): Parsed<AnnotatedPeer[]> {
  const ips = splitList(ann[ANN.peerIps]);
  if (ips.length === 0) return { value: [], errors: [] };
  const asns = splitList(ann[ANN.peerAsns]);
  const pws = splitList(ann[ANN.peerPasswords]);
  const ports = splitList(ann[ANN.peerPorts]);
  const locals = splitList(ann[ANN.peerLocalIps]);
  if (asns.length !== ips.length) {
    return { value: [], errors: [`${where}: ${ANN.peerIps} has ${ips.length} entries but ${ANN.peerAsns} has ${asns.length}; peers skipped`] };
  }
  const value: AnnotatedPeer[] = [], errors: string[] = [];
  ips.forEach((address, i) => {
    const asn = parseAsn(asns[i]!);
    if (!ipFamily(address, GO_ADDRESSES) || asn === undefined) {
      errors.push(`${where}: legacy peer ${i} (${address}, asn ${asns[i]}) is invalid; skipped`);
      return;
    }
    const peer: { -readonly [K in keyof AnnotatedPeer]: AnnotatedPeer[K] } = { address, asn };
    if (ports[i] !== undefined) {
      const port = parsePort(ports[i]);
      if (port === undefined) errors.push(`${where}: ${ANN.peerPorts}[${i}] ${ports[i]} invalid; using 179`);
      else peer.port = port;
    }
    if (pws[i] !== undefined) {
      const pw = decodePassword(pws[i]!);
      if (pw === undefined) { errors.push(`${where}: ${ANN.peerPasswords}[${i}] is not base64; peer skipped`); return; }
      peer.password = pw;
    }
    if (locals[i] !== undefined && ipFamily(locals[i]!, GO_ADDRESSES)) peer.localAddress = locals[i]!;
    value.push(peer);
  });
  return { value, errors };
}

/** Communities "65000:100" (two 16-bit halves), a uint32, or a well-known name. */
export function parseCommunities(text: string | undefined, where: string): Parsed<string[]> {
  const value: string[] = [], errors: string[] = [];
  const wellKnown = new Set(['no-export', 'no-advertise', 'no-export-subconfed', 'no-peer', 'internet', 'local-as', 'blackhole', 'graceful-shutdown']);
  for (const c of splitList(text)) {
    const m = /^(\d+):(\d+)$/.exec(c);
    if (m && Number(m[1]) <= 65535 && Number(m[2]) <= 65535) value.push(c);
    else if (/^\d+$/.test(c) && Number(c) <= 0xffffffff) value.push(`${Math.floor(Number(c) / 65536)}:${Number(c) % 65536}`);
    else if (wellKnown.has(c.toLowerCase())) value.push(c.toLowerCase());
    else errors.push(`${where}: community ${JSON.stringify(c)} in ${ANN.communities} is invalid; ignored`);
  }
  return { value, errors };
}

export function parsePrepend(ann: Readonly<Record<string, string>>, where: string): Parsed<{ asn: number; count: number } | undefined> {
  const asText = ann[ANN.prependAs], nText = ann[ANN.prependRepeat];
  if (asText === undefined && nText === undefined) return { value: undefined, errors: [] };
  const asn = parseAsn(asText ?? '');
  const count = nText !== undefined && /^\d+$/.test(nText.trim()) ? Number(nText) : NaN;
  if (asn === undefined || !(count >= 1 && count <= 255)) {
    return { value: undefined, errors: [`${where}: ${ANN.prependAs}=${JSON.stringify(asText)} / ${ANN.prependRepeat}=${JSON.stringify(nText)} must both be set (AS number, repeat 1..255); no prepend`] };
  }
  return { value: { asn, count }, errors: [] };
}

export function parseCidrList(text: string | undefined, annotation: string, where: string): Parsed<string[]> {
  const value: string[] = [], errors: string[] = [];
  for (const part of splitList(text)) {
    const c = canonicalCIDR(part, GO_ADDRESSES);
    if (c) value.push(c); else errors.push(`${where}: ${JSON.stringify(part)} in ${annotation} is not a CIDR; ignored`);
  }
  return { value, errors };
}

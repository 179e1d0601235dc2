// Model -> ProxyPlan: which IPVS virtual servers this node serves, with which real servers, which
// addresses kube-dummy-if holds and which source NAT is needed. Pure: same snapshot and inputs, same plan.
import { cidrContainsIP } from '../../../model/normalize/cidr.js';
import { ipFamily } from '../../../model/normalize/ip.js';
import type { ClusterSnapshot, EndpointModel, EndpointSliceModel, IPFamily, ServiceModel, ServicePortModel } from '../../../model/types.js';
import { serviceSettings } from './annotations.js';
import { compileDsr, DEFAULT_DSR_TCP_MSS, dsrAddressKey, dsrFwmark, placeDsrServers } from './dsr.js';
import { preferClose } from './topology.js';
import { ipvsProtocol, virtualServerKey, type NatRule, type ProxyPlan, type RealServer, type ServiceRef, type VirtualServer } from './plan.js';

export interface ProxyInputs {
  readonly nodeName: string;
  /** The node's own (primary) address: source of masqueraded traffic of its family. */
  readonly nodeIP?: string;
  /**
   * The node's address in each served family (dual-stack: one IPv4, one IPv6): the source of masqueraded
   * traffic of that family. Absent: `nodeIP` alone.
   */
  readonly nodeIPs?: readonly string[];
  /** Where NodePorts are served: the node's primary IP, or every local address (--nodeport-bindon-all-ip). */
  readonly nodePortAddresses: readonly string[];
  /** This node's pod CIDRs: traffic between them and the services is never NATed. */
  readonly podCIDRs: readonly string[];
  readonly families: readonly IPFamily[];
  readonly externalIPRanges: readonly string[];
  readonly loadBalancerIPRanges: readonly string[];
  /** --strict-external-ip-validation: external and LoadBalancer IPs only inside the ranges above. */
  readonly strictExternalIPs: boolean;
  readonly masqueradeAll: boolean;
  /** --hairpin-mode: hairpin NAT for every service, not only annotated ones. */
  readonly hairpinAll: boolean;
  /** The node's topology.kubernetes.io/zone label: cluster-wide traffic prefers endpoints hinted for it. */
  readonly zone?: string;
  /** MSS clamped on DSR pods' SYNs (default 1440: MTU 1500 through IPIP). */
  readonly dsrTcpMss?: number;
}

/** The label by which a service asks for another proxy (kube-proxy's and kube-router's convention). */
const PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
const HEADLESS_LABEL = 'service.kubernetes.io/headless';
const DEFAULT_AFFINITY_SECONDS = 10_800;
const FAMILY_FLAG: Record<IPFamily, string> = { 4: '--enable-ipv4', 6: '--enable-ipv6' };

/** The node's address of one family, from `nodeIPs` or else `nodeIP`. */
export function nodeAddressOf(inp: Pick<ProxyInputs, 'nodeIP' | 'nodeIPs'>, family: IPFamily): string | undefined {
  return (inp.nodeIPs ?? (inp.nodeIP ? [inp.nodeIP] : [])).find((ip) => ipFamily(ip) === family);
}

/** Why a service is not ours to program, or undefined when it is. */
export function notServed(svc: ServiceModel): string | undefined {
  if (svc.type === 'ExternalName') return 'type ExternalName';
  if (svc.headless || svc.clusterIPs.length === 0) return 'headless';
  if (svc.labels[HEADLESS_LABEL] !== undefined) return `label ${HEADLESS_LABEL}`;
  const other = svc.labels[PROXY_NAME_LABEL];
  if (other !== undefined && other !== 'kube-router') return `label ${PROXY_NAME_LABEL}=${other}`;
  return undefined;
}

function slicesByService(s: ClusterSnapshot): Map<string, EndpointSliceModel[]> {
  const out = new Map<string, EndpointSliceModel[]>();
  for (const slice of s.endpointSlices.values()) {
    if (slice.addressType === 'FQDN') continue;
    const k = `${slice.namespace}/${slice.serviceName}`;
    const list = out.get(k);
    if (list) list.push(slice);
    else out.set(k, [slice]);
  }
  return out;
}

interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly local: boolean;
  readonly zoneHints?: readonly string[] | undefined;
  readonly nodeHints?: readonly string[] | undefined;
}

/**
 * The endpoints of one service port in one family: ready ones; when none is ready, the serving ones
 * that are terminating (kube-proxy's rule, so connections still land while a rollout drains).
 */
function endpointsOf(slices: readonly EndpointSliceModel[], sp: ServicePortModel, family: IPFamily, nodeName: string): Endpoint[] {
  const ready: Endpoint[] = [];
  const terminating: Endpoint[] = [];
  for (const slice of slices) {
    if (slice.addressType !== (family === 4 ? 'IPv4' : 'IPv6')) continue;
    const port = slice.ports.find((p) => p.name === sp.name && p.protocol === sp.protocol);
    if (!port) continue;
    for (const ep of slice.endpoints as readonly EndpointModel[]) {
      const address = ep.addresses[0];
      if (!address) continue;
      const e = { address, port: port.port, local: ep.nodeName === nodeName, zoneHints: ep.zoneHints, nodeHints: ep.nodeHints };
      if (ep.ready) ready.push(e);
      else if (ep.serving && ep.terminating) terminating.push(e);
    }
  }
  const chosen = ready.length > 0 ? ready : terminating;
  const seen = new Set<string>();
  return chosen
    .filter((e) => !seen.has(`${e.address}:${e.port}`) && Boolean(seen.add(`${e.address}:${e.port}`)))
    .sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
}

/** Why a virtual server of `svcKey` is left out: another service (earlier by namespace/name) serves its address. */
export function alreadyServed(svcKey: string, sp: ServicePortModel, vsKey: string, owner: ServiceRef): string {
  return `service ${svcKey} port ${sp.name || sp.port}: ${vsKey} is already served for ${owner.namespace}/${owner.name}`;
}

const realServers = (eps: readonly Endpoint[]): RealServer[] => eps.map((e) => ({ address: e.address, port: e.port, weight: 1 }));
const tunnelServers = (eps: readonly Endpoint[]): RealServer[] =>
  eps.map((e) => ({ address: e.address, port: e.port, weight: 1, forward: 'tunnel' as const, ...(e.local ? { localPod: true as const } : {}) }));

/** Every node's own addresses: an endpoint there is a hostNetwork pod, which DSR cannot serve. */
function nodeAddresses(s: ClusterSnapshot): Set<string> {
  const out = new Set<string>();
  for (const n of s.nodes.values()) for (const ip of [...n.internalIPs, ...n.externalIPs]) out.add(ip);
  return out;
}

export function compileProxyPlan(snapshot: ClusterSnapshot, inp: ProxyInputs): ProxyPlan {
  const servers = new Map<string, VirtualServer>();
  /** DSR virtual servers by dsrAddressKey, each with its first-choice mark. */
  const dsrServers = new Map<string, VirtualServer>();
  const vips = new Set<string>();
  const nat: NatRule[] = [];
  const skipped: string[] = [];
  const slices = slicesByService(snapshot);
  const inRanges = (ip: string, ranges: readonly string[]) => ranges.some((r) => cidrContainsIP(r, ip));
  let hostAddresses: Set<string> | undefined;

  const services = [...snapshot.services.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
  for (const svc of services) {
    const key = `${svc.namespace}/${svc.name}`;
    const why = notServed(svc);
    if (why) continue; // not ours: silently, as kube-router (headless services are normal, not news)
    // A family this node does not serve (an IPv6 address with --enable-ipv6 off): said, not silently dropped.
    for (const f of [4, 6] as const) {
      if (inp.families.includes(f)) continue;
      const off = [...svc.clusterIPs, ...svc.externalIPs, ...svc.loadBalancerIPs].filter((ip) => ipFamily(ip) === f);
      if (off.length) skipped.push(`service ${key}: IPv${f} addresses ${off.join(', ')} not served (${FAMILY_FLAG[f]} is off)`);
    }
    const settings = serviceSettings(svc, (m) => skipped.push(m));
    const extLocal = svc.externalTrafficPolicy === 'Local' || settings.local;
    const intLocal = svc.internalTrafficPolicy === 'Local';
    // An address of a family not served is reported above, not again here.
    const served = (ip: string) => inp.families.includes(ipFamily(ip) ?? 4);
    const externalIPs = svc.externalIPs.filter((ip) => {
      if (!inp.strictExternalIPs || inRanges(ip, inp.externalIPRanges)) return true;
      if (served(ip)) skipped.push(`service ${key}: external IP ${ip} is outside --service-external-ip-range (strict external IP validation)`);
      return false;
    });
    const lbIPs = settings.skipLoadBalancerIPs
      ? []
      : svc.loadBalancerIPs.filter((ip) => {
          if (!inp.strictExternalIPs || inRanges(ip, inp.loadBalancerIPRanges)) return true;
          if (served(ip)) skipped.push(`service ${key}: LoadBalancer IP ${ip} is outside --loadbalancer-ip-range (strict external IP validation)`);
          return false;
        });

    for (const family of inp.families) {
      const fam = (ip: string) => ipFamily(ip) === family;
      // A service is served in the families of its cluster IPs (spec.ipFamilies): a single-stack IPv6
      // service has no IPv4 NodePort, and an external IP of the other family has no cluster IP to go with.
      if (!svc.clusterIPs.some(fam)) {
        const stray = [...externalIPs, ...lbIPs].filter(fam);
        if (stray.length) skipped.push(`service ${key}: IPv${family} addresses ${stray.join(', ')} not served (the service has no IPv${family} cluster IP)`);
        continue;
      }
      for (const sp of svc.ports) {
        const every = endpointsOf(slices.get(key) ?? [], sp, family, inp.nodeName);
        const local = every.filter((e) => e.local);
        // Local traffic policies keep to this node; Cluster ones prefer this node, then its zone (topology hints).
        const all = preferClose(every, inp.nodeName, inp.zone);
        const protocol = ipvsProtocol(sp.protocol);
        const base = {
          protocol,
          scheduler: settings.scheduler,
          flags: settings.flags,
          ...(svc.sessionAffinity === 'ClientIP' ? { persistenceSeconds: svc.sessionAffinityTimeoutSeconds ?? DEFAULT_AFFINITY_SECONDS } : {}),
        };
        const add = (address: string, port: number, via: ServiceRef['via'], eps: readonly Endpoint[], fwmark?: number) => {
          const v: VirtualServer = {
            ...base,
            ...(fwmark !== undefined ? { fwmark } : {}),
            address,
            port,
            realServers: fwmark !== undefined ? tunnelServers(eps) : realServers(eps),
            service: { namespace: svc.namespace, name: svc.name, port: sp.name, via },
          };
          // DSR addresses get their final marks once all are known (placeDsrServers): settled by address here.
          const [map, k] = fwmark !== undefined ? [dsrServers, dsrAddressKey(address, protocol, port)] : [servers, virtualServerKey(v)];
          const owner = map.get(k);
          if (owner) {
            skipped.push(alreadyServed(key, sp, virtualServerKey(owner), owner.service));
            return;
          }
          map.set(k, v);
        };
        const hairpin = (vip: string, eps: readonly Endpoint[]) => {
          for (const e of eps) if (e.local) nat.push({ kind: 'hairpin', endpoint: e.address, vip, port: sp.port, protocol });
        };
        for (const ip of svc.clusterIPs.filter(fam)) {
          vips.add(ip);
          const eps = intLocal ? local : all;
          add(ip, sp.port, 'clusterIP', eps);
          if (settings.hairpin || inp.hairpinAll) hairpin(ip, eps);
        }
        const external = extLocal ? local : all;
        // DSR: the pod receives the packet unchanged, so it must listen on the service port itself
        // (no port remap) and be a pod (a hostNetwork endpoint has no netns of its own to decapsulate in).
        let dsr = settings.dsr && family === 4;
        if (settings.dsr && family === 6 && [...externalIPs, ...lbIPs].some(fam)) {
          skipped.push(`service ${key} port ${sp.name || sp.port}: DSR is IPv4 only so far; its IPv6 addresses are served in NAT mode`);
        }
        let dsrEps = external;
        if (dsr) {
          const remapped = external.find((e) => e.port !== sp.port);
          if (remapped) {
            skipped.push(`service ${key} port ${sp.name || sp.port}: DSR needs targetPort = port (${sp.port}), an endpoint listens on ${remapped.port}; served without DSR`);
            dsr = false;
          } else {
            hostAddresses ??= nodeAddresses(snapshot);
            const onHost = external.filter((e) => hostAddresses!.has(e.address));
            if (onHost.length) {
              skipped.push(`service ${key} port ${sp.name || sp.port}: DSR cannot reach hostNetwork endpoints ${onHost.map((e) => e.address).join(', ')}; left out of its DSR addresses`);
              dsrEps = external.filter((e) => !hostAddresses!.has(e.address));
            }
          }
        }
        const serveExternal = (ip: string, via: 'externalIP' | 'loadBalancer') => {
          if (dsr) return add(ip, sp.port, via, dsrEps, dsrFwmark(ip, protocol, sp.port));
          vips.add(ip);
          add(ip, sp.port, via, external);
        };
        for (const ip of externalIPs.filter(fam)) {
          serveExternal(ip, 'externalIP');
          if (settings.hairpinExternalIPs && !dsr) hairpin(ip, external);
        }
        for (const ip of lbIPs.filter(fam)) serveExternal(ip, 'loadBalancer');
        if ((svc.type === 'NodePort' || svc.type === 'LoadBalancer') && sp.nodePort) {
          for (const ip of inp.nodePortAddresses.filter(fam)) add(ip, sp.nodePort, 'nodePort', external);
        }
      }
    }
  }
  // One masquerade rule per served family, to the node's address of that family, except its pod CIDRs.
  const masquerade: NatRule[] = [];
  for (const family of inp.families) {
    const toSource = nodeAddressOf(inp, family);
    if (!toSource) continue;
    const exceptCIDRs = inp.masqueradeAll ? [] : inp.podCIDRs.filter((c) => c.includes(':') === (family === 6));
    masquerade.push({ kind: 'masquerade', exceptCIDRs, toSource });
  }
  nat.unshift(...masquerade);
  placeDsrServers(servers, [...dsrServers.values()], skipped);
  return { virtualServers: servers, vips: [...vips].sort(), nat, skipped, dsr: compileDsr(servers, inp.dsrTcpMss ?? DEFAULT_DSR_TCP_MSS) };
}

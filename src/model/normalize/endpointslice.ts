import type { EndpointModel, EndpointSliceModel, EndpointSlicePortModel } from '../types.js';
import { canonicalIP, ipFamily } from './ip.js';
import { isObject, oneOf, optArray, optBool, optObject, optString, portNumber, protocolOf, readMeta } from './fields.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** discovery/v1 EndpointSlice -> EndpointSliceModel. */
export function normalizeEndpointSlice(raw: unknown): NormalizeResult<EndpointSliceModel> {
  return normalizeWith(() => {
    const meta = readMeta(raw, true);
    const obj = raw as Record<string, unknown>;
    const serviceName = meta.labels[SERVICE_NAME_LABEL];
    if (!serviceName) reject('missing_field', `metadata.labels: label ${SERVICE_NAME_LABEL} is missing or empty`);
    const rawType = obj['addressType'];
    if (rawType === undefined || rawType === null || rawType === '') reject('missing_field', 'addressType is missing');
    const addressType = oneOf<'IPv4' | 'IPv6' | 'FQDN'>(rawType, 'addressType', ['IPv4', 'IPv6', 'FQDN'], 'IPv4');
    const family = addressType === 'IPv4' ? 4 : addressType === 'IPv6' ? 6 : undefined;

    const ports: EndpointSlicePortModel[] = [];
    optArray(obj['ports'], 'ports').forEach((p, i) => {
      const at = `ports[${i}]`;
      if (!isObject(p)) reject('invalid_field', `${at}: expected an object`);
      // A nil port means "all ports" to some consumers; a service proxy has nothing to forward to, so skip it.
      if (p['port'] === undefined || p['port'] === null) return;
      ports.push({
        name: optString(p['name'], `${at}.name`) ?? '',
        port: portNumber(p['port'], `${at}.port`),
        protocol: protocolOf(p['protocol'], `${at}.protocol`),
      });
    });

    const endpoints: EndpointModel[] = [];
    optArray(obj['endpoints'], 'endpoints').forEach((e, i) => {
      const at = `endpoints[${i}]`;
      if (!isObject(e)) reject('invalid_field', `${at}: expected an object`);
      const addrs = optArray(e['addresses'], `${at}.addresses`);
      if (addrs.length === 0) reject('missing_field', `${at}.addresses: at least one address is required`);
      const addresses: string[] = [];
      addrs.forEach((a, j) => {
        const aat = `${at}.addresses[${j}]`;
        let canon: string | undefined;
        if (family === undefined) {
          canon = typeof a === 'string' && a.length > 0 ? a.toLowerCase() : undefined;
          if (!canon) reject('invalid_field', `${aat}: expected a non-empty hostname`);
        } else {
          canon = canonicalIP(a);
          if (!canon) reject('invalid_ip', `${aat}: invalid IP address ${JSON.stringify(a)}`);
          if (ipFamily(canon) !== family) reject('invalid_ip', `${aat}: ${canon} is not an ${addressType} address`);
        }
        if (!addresses.includes(canon)) addresses.push(canon);
      });
      const cond = optObject(e['conditions'], `${at}.conditions`) ?? {};
      // API semantics: unknown readiness is treated as ready; serving defaults to ready; terminating to false.
      const ready = optBool(cond['ready'], `${at}.conditions.ready`) ?? true;
      const serving = optBool(cond['serving'], `${at}.conditions.serving`) ?? ready;
      const terminating = optBool(cond['terminating'], `${at}.conditions.terminating`) ?? false;
      const nodeName = optString(e['nodeName'], `${at}.nodeName`);
      const ref = optObject(e['targetRef'], `${at}.targetRef`);
      let targetPod: EndpointModel['targetPod'];
      if (ref && ref['kind'] === 'Pod') {
        const name = optString(ref['name'], `${at}.targetRef.name`);
        if (name) targetPod = { namespace: optString(ref['namespace'], `${at}.targetRef.namespace`) || meta.namespace, name };
      }
      const hints = optObject(e['hints'], `${at}.hints`);
      const zoneHints: string[] = [];
      optArray(hints?.['forZones'], `${at}.hints.forZones`).forEach((z, j) => {
        if (!isObject(z)) reject('invalid_field', `${at}.hints.forZones[${j}]: expected an object`);
        const name = optString(z['name'], `${at}.hints.forZones[${j}].name`);
        if (name && !zoneHints.includes(name)) zoneHints.push(name);
      });
      const nodeHints: string[] = [];
      optArray(hints?.['forNodes'], `${at}.hints.forNodes`).forEach((n, j) => {
        if (!isObject(n)) reject('invalid_field', `${at}.hints.forNodes[${j}]: expected an object`);
        const name = optString(n['name'], `${at}.hints.forNodes[${j}].name`);
        if (name && !nodeHints.includes(name)) nodeHints.push(name);
      });
      endpoints.push({
        addresses,
        ready,
        serving,
        terminating,
        ...(nodeName ? { nodeName } : {}),
        ...(targetPod ? { targetPod } : {}),
        ...(zoneHints.length ? { zoneHints } : {}),
        ...(nodeHints.length ? { nodeHints } : {}),
      });
    });

    return { namespace: meta.namespace, name: meta.name, serviceName, addressType, ports, endpoints };
  });
}

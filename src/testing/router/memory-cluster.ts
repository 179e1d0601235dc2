// The shared in-memory ClusterView (src/watch/memory-view.ts) with node/service shorthands for the
// routing tests and the bench, plus model builders.
import { createMemoryClusterView, type MemoryClusterView } from '../../watch/memory-view.js';
import type { ClusterView } from '../../watch/cluster-view.js';
import type { EndpointSliceModel, NodeModel, ServiceModel } from '../../model/types.js';

export class TestClusterView implements ClusterView {
  private readonly view: MemoryClusterView = createMemoryClusterView();
  snapshot = () => this.view.snapshot();
  subscribe: ClusterView['subscribe'] = (kinds, fn) => this.view.subscribe(kinds, fn);
  whenSynced = () => this.view.whenSynced();
  // Each change is delivered at once, so a test's next line already sees it in snapshot().
  setNode(n: NodeModel): void { this.view.set('Node', n); this.view.flush(); }
  deleteNode(name: string): void { this.view.delete('Node', name); this.view.flush(); }
  setService(s: ServiceModel): void { this.view.set('Service', s); this.view.flush(); }
  deleteService(ns: string, name: string): void { this.view.delete('Service', `${ns}/${name}`); this.view.flush(); }
  setEndpointSlice(s: EndpointSliceModel): void { this.view.set('EndpointSlice', s); this.view.flush(); }
}

export function testNode(name: string, ip: string, podCIDRs: readonly string[], annotations: Record<string, string> = {}): NodeModel {
  return {
    name, uid: `uid-${name}`, labels: {}, annotations, internalIPs: [ip], externalIPs: [], primaryIP: ip, podCIDRs,
    unschedulable: false, ready: true,
  };
}

export function testService(ns: string, name: string, fields: Partial<ServiceModel> = {}): ServiceModel {
  return {
    namespace: ns, name, uid: `uid-${ns}-${name}`, type: 'ClusterIP', labels: {}, annotations: {}, clusterIPs: [], headless: false,
    externalIPs: [], loadBalancerIPs: [], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], selector: {},
    sessionAffinity: 'None', externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster', ...fields,
  };
}

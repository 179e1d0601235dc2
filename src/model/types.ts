// The typed, normalized cluster model. Controllers read only these types; raw Kubernetes objects never
// leave src/watch and src/model/normalize. Everything here is read-only and already validated: a value
// that reaches a controller needs no further defensive checks.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 4 | 6;
export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  readonly values: readonly string[];
}

/** A parsed metav1.LabelSelector. No matchLabels and no requirements selects everything. */
export interface LabelSelector {
  readonly matchLabels: Labels;
  readonly matchExpressions: readonly LabelRequirement[];
}

export interface NodeModel {
  readonly name: string;
  readonly uid: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly internalIPs: readonly string[];
  readonly externalIPs: readonly string[];
  /** First InternalIP, else first ExternalIP (as kube-router picks it). */
  readonly primaryIP?: string;
  /** spec.podCIDRs (or spec.podCIDR), canonical form. Annotation overrides are applied by the router. */
  readonly podCIDRs: readonly string[];
  readonly unschedulable: boolean;
  readonly ready: boolean;
}

export interface NamespaceModel {
  readonly name: string;
  readonly uid: string;
  readonly labels: Labels;
}

export interface ContainerPortModel {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
  readonly hostPort?: number;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodModel {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  readonly phase: PodPhase;
  /** status.podIPs (or status.podIP), canonical form; empty until the runtime reports one. */
  readonly podIPs: readonly string[];
  readonly hostIP?: string;
  /** All container ports of all containers (init containers excluded). */
  readonly ports: readonly ContainerPortModel[];
  readonly terminationGracePeriodSeconds?: number;
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

export interface ServicePortModel {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly targetPort: number | string;
  readonly nodePort?: number;
}

export interface ServiceModel {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly type: ServiceType;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** spec.clusterIPs without "None"; empty for headless and ExternalName services. */
  readonly clusterIPs: readonly string[];
  readonly headless: boolean;
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip, skipping ipMode Proxy. */
  readonly loadBalancerIPs: readonly string[];
  readonly ports: readonly ServicePortModel[];
  /** undefined = no selector (endpoints managed by someone else). */
  readonly selector?: Labels;
  readonly sessionAffinity: 'None' | 'ClientIP';
  readonly sessionAffinityTimeoutSeconds?: number;
  readonly externalTrafficPolicy: TrafficPolicy;
  readonly internalTrafficPolicy: TrafficPolicy;
  readonly healthCheckNodePort?: number;
}

export interface EndpointModel {
  readonly addresses: readonly string[];
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName?: string;
  readonly targetPod?: { readonly namespace: string; readonly name: string };
  /** hints.forZones[].name: the zones this endpoint should serve (topology-aware routing); absent = no hints. */
  readonly zoneHints?: readonly string[];
  /** hints.forNodes[].name: the nodes this endpoint should serve (trafficDistribution PreferSameNode); absent = none. */
  readonly nodeHints?: readonly string[];
}

export interface EndpointSlicePortModel {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface EndpointSliceModel {
  readonly namespace: string;
  readonly name: string;
  /** Label kubernetes.io/service-name; slices without it are rejected. */
  readonly serviceName: string;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly ports: readonly EndpointSlicePortModel[];
  readonly endpoints: readonly EndpointModel[];
}

export type PolicyType = 'Ingress' | 'Egress';

/**
 * A NetworkPolicy peer. `pods` follows the API: podSelector alone selects in the policy's namespace;
 * namespaceSelector alone selects every pod of the matching namespaces; both together is an AND.
 */
export type PolicyPeer =
  | {
      readonly kind: 'pods';
      readonly podSelector?: LabelSelector;
      readonly namespaceSelector?: LabelSelector;
    }
  | {
      readonly kind: 'ipBlock';
      /** Canonical CIDR (host bits cleared). */
      readonly cidr: string;
      readonly family: IPFamily;
      /** Canonical CIDRs, each inside `cidr` (others are dropped with a warning at normalization). */
      readonly except: readonly string[];
    };

export interface PolicyPort {
  readonly protocol: Protocol;
  /** undefined = every port of the protocol; a string is a named container port. */
  readonly port?: number | string;
  /** Inclusive end of a numeric range starting at `port`. */
  readonly endPort?: number;
}

export interface PolicyRule {
  /** Empty = any peer. */
  readonly peers: readonly PolicyPeer[];
  /** Empty = every port and protocol. */
  readonly ports: readonly PolicyPort[];
}

export interface NetworkPolicyModel {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly podSelector: LabelSelector;
  /** Defaulted as the API server does: Ingress always unless explicitly given, Egress when egress rules exist. */
  readonly policyTypes: readonly PolicyType[];
  /** Only meaningful when policyTypes includes Ingress; empty = deny all ingress. */
  readonly ingress: readonly PolicyRule[];
  /** Only meaningful when policyTypes includes Egress; empty = deny all egress. */
  readonly egress: readonly PolicyRule[];
}

export type ResourceKind = 'Node' | 'Namespace' | 'Pod' | 'Service' | 'EndpointSlice' | 'NetworkPolicy';

/** Key of a namespaced object: "namespace/name"; of a cluster-scoped object: "name". */
export type ObjectKey = string;

/** An immutable view of everything the agent knows; each map is replaced, never mutated, on change. */
export interface ClusterSnapshot {
  readonly nodes: ReadonlyMap<ObjectKey, NodeModel>;
  readonly namespaces: ReadonlyMap<ObjectKey, NamespaceModel>;
  readonly pods: ReadonlyMap<ObjectKey, PodModel>;
  readonly services: ReadonlyMap<ObjectKey, ServiceModel>;
  readonly endpointSlices: ReadonlyMap<ObjectKey, EndpointSliceModel>;
  readonly policies: ReadonlyMap<ObjectKey, NetworkPolicyModel>;
}

/** One change to the model, as controllers see it. */
export interface ModelChange<K extends ResourceKind = ResourceKind> {
  readonly kind: K;
  readonly key: ObjectKey;
  readonly type: 'added' | 'updated' | 'deleted';
  readonly old?: ModelOf<K>;
  readonly new?: ModelOf<K>;
}

export type ModelOf<K extends ResourceKind> = K extends 'Node'
  ? NodeModel
  : K extends 'Namespace'
    ? NamespaceModel
    : K extends 'Pod'
      ? PodModel
      : K extends 'Service'
        ? ServiceModel
        : K extends 'EndpointSlice'
          ? EndpointSliceModel
          : NetworkPolicyModel;

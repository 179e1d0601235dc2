// Every resource the server serves, in discovery order.
import type { ResourceDef } from '../resources.js';
import { namespaces, nodes, pods } from './core.js';
import { services } from './service.js';
import { clusterrolebindings, clusterroles, configmaps, daemonsets, serviceaccounts } from './deploy.js';
import { endpointslices, events, leases, networkpolicies } from './networking.js';

export const namespacesDef = namespaces;

export const ALL_RESOURCES: readonly ResourceDef[] = [
  namespaces,
  nodes,
  pods,
  services,
  events,
  endpointslices,
  networkpolicies,
  leases,
  serviceaccounts,
  configmaps,
  daemonsets,
  clusterroles,
  clusterrolebindings,
];

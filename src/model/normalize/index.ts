// Raw Kubernetes object -> typed model, or a rejection with a precise reason. Nothing here throws.
export { normalizeNode } from './node.js';
export { normalizeNamespace } from './namespace.js';
export { normalizePod } from './pod.js';
export { normalizeService, DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './service.js';
export { normalizeEndpointSlice, SERVICE_NAME_LABEL } from './endpointslice.js';
export { normalizeNetworkPolicy } from './networkpolicy.js';
export {
  parseLabelSelector,
  readLabelSelector,
  matches,
  matchesMap,
  requirementHolds,
  sameLabels,
  isEverything,
  EVERYTHING,
} from './selector.js';
export {
  parseIP,
  formatIP,
  canonicalIP,
  ipFamily,
  familyBits,
  ipToBigInt,
  bigIntToIP,
  GO_ADDRESSES,
  type ParsedIP,
  type IPSyntax,
  type IPTextStyle,
} from './ip.js';
export {
  parseCIDR,
  parseCIDROrIP,
  networkOf,
  formatCIDR,
  canonicalCIDR,
  cidrContains,
  cidrContainsIP,
  sameCIDR,
  hostPrefix,
  cidrSize,
  firstHost,
  nthSubnet,
  firstFreeSubnet,
  type ParsedCIDR,
} from './cidr.js';
export { REJECT_CODES, type RejectCode, type NormalizeResult } from './result.js';

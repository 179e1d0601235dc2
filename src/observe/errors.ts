// The project's one error type. Every error kube-router-ts raises on purpose is a KrtError with a stable
// `code` from ERROR_CODES; logs carry it as `code`, /healthz/json as `problemCode`, and the CLI prints it
// after the message. docs/errors.md lists every code and errors.test.ts keeps the two identical. Codes are
// never reused or renamed: a retired code stays in the table with its description saying so.
// This module imports nothing, so every layer (cli, watch, dataplane, apiserver, lab) may use it.

export const ERROR_CODES = {
  KRT_FLAG_INVALID_VALUE: 'A flag value does not parse or is out of bounds. The CLI exits 2.',
  KRT_FLAG_UNKNOWN: 'An unknown flag or shorthand. The CLI exits 2 and suggests the nearest flag.',
  KRT_FLAG_MISSING_VALUE: 'A flag that takes a value was given none. The CLI exits 2.',
  KRT_FLAG_UNEXPECTED_ARGUMENT: 'A positional argument where kube-router takes only flags. The CLI exits 2.',
  KRT_FLAG_CONFLICT: 'Flags that cannot be combined (e.g. --peer-router-passwords and --peer-router-passwords-file). The CLI exits 2.',
  KRT_VALUE_INVALID: 'A value rejected by a flag value parser; inside the CLI it becomes KRT_FLAG_INVALID_VALUE naming the flag.',
  KRT_KUBECONFIG: 'No usable kubeconfig, service account or --master URL. The agent exits 1.',
  KRT_API_LIST: "An informer's list request got an HTTP error (4xx/5xx, e.g. 403 without RBAC) or an unreadable answer from the Kubernetes API. The informer retries with backoff and keeps its last objects.",
  KRT_EXEC_FAILED: 'A kernel tool (ip, iptables-restore, ipset, sysctl) exited non-zero, was killed, timed out or could not start.',
  KRT_IPVS_NETLINK:
    "The service proxy's IPVS writer over generic netlink: the kernel refused operations of a batch (each named as its ipvsadm line with the errno, e.g. EEXIST), a value cannot be encoded, or the socket failed. The sync fails and is retried from a fresh read of the kernel.",
  KRT_FIREWALL_NFT_UNAVAILABLE:
    "--use-nftables-for-netpol is set but this node has neither libnftables (the firewall's netfilter addon, which dlopens libnftables.so.1) nor a working `nft` binary: the firewall refuses to start and the agent exits 1. Install nftables (Debian: nftables, libnftables1) or drop the flag.",
  KRT_HEALTH_NO_SYNC: 'A controller has not completed a sync within its period + 10% + grace (start-up grace before the first). /healthz fails.',
  KRT_ROUTER_NO_POD_CIDR: 'The router has no usable pod CIDR for this node (node.spec.podCIDR(s) or the kube-router.io/pod-cidr annotation).',
  KRT_ROUTER_OWN_NODE_MISSING: "This node's own Node object is gone from the API (deleted) after the router had seen it: the router keeps the dataplane as it was and reports itself degraded (/healthz stays 200) until the Node is back.",
  KRT_APISERVER_STATUS: 'The project API server answers a request with a Kubernetes Status error (HTTP 4xx/5xx).',
  KRT_APISERVER_PROTOBUF: 'The project API server cannot decode a protobuf request body.',
  KRT_APISERVER_PATCH: 'The project API server cannot apply a JSON, merge or strategic patch.',
  KRT_APISERVER_SELECTOR: 'The project API server cannot parse a label or field selector.',
  KRT_LAB_API: 'The lab API client got an error status from the API server.',
  KRT_EXPLAIN_ENDPOINT: '`kube-router explain`: an endpoint is neither `namespace/pod`, a node name nor an IP address, or an option of explain is out of range. Exits 2.',
  KRT_EXPLAIN_UNKNOWN_POD: '`kube-router explain`: no pod of that `namespace/name` in the cluster. Exits 1.',
  KRT_EXPLAIN_POD_NO_IP: '`kube-router explain`: the pod has no IP (or none of the family the other end has), is not scheduled, or has finished, so no firewall holds rules for it. Exits 1.',
  KRT_EXPLAIN_AMBIGUOUS_IP: '`kube-router explain`: an IP names more than one pod or node; name the pod as `namespace/pod` instead. Exits 1.',
  KRT_EXPLAIN_NO_PATH: "`kube-router explain`: neither end is a pod, a node or an address of a node's pod CIDR, or the two ends share no IP family: no firewall of the cluster sees the packet. Exits 1.",
  KRT_EXPLAIN_API: '`kube-router explain`: the cluster could not be listed (API server unreachable or not answering within --timeout). Exits 1.',
  KRT_EXPLAIN_KERNEL: "`kube-router explain --kernel`: a node's kernel state cannot be read (not this host's node and no `--lab`, or iptables-save / ipset save failed). Exits 1.",
  KRT_INTERNAL: 'Anything that is not a KrtError (a bug or an unexpected failure); the message says what.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

// A brand rather than instanceof alone, so the check survives two copies of this module (tsx and dist).
const BRAND = Symbol.for('kube-router-ts.KrtError');

export class KrtError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isKrtError(err: unknown, code?: ErrorCode): err is KrtError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true && (code === undefined || (err as KrtError).code === code);
}

/** The stable code of any thrown value: its own for a KrtError, KRT_INTERNAL otherwise. */
export function errorCode(err: unknown): ErrorCode {
  return isKrtError(err) ? err.code : 'KRT_INTERNAL';
}

/** `{ code, err }` for a log line: the stable code and the message. */
export function errorFields(err: unknown): { code: ErrorCode; err: string } {
  return { code: errorCode(err), err: err instanceof Error ? err.message : String(err) };
}

/** One line for people: the message, then the code in brackets (what the CLI prints). */
export function errorLine(err: unknown): string {
  const { code, err: message } = errorFields(err);
  return `${message} [${code}]`;
}

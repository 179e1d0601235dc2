// Public surface of the project's Kubernetes-API-compatible server (used by the lab and the tests; no
// real kube-apiserver can be installed here).
//
// Semantics worth knowing when coding against it:
// - resourceVersions come from one global counter that starts at Date.now()*1000 (or at the data file's
//   last version when that is newer), so they stay monotonic across restarts and a client holding a
//   version from an earlier process without a data file gets 410 and relists. They fit in a JS number.
// - Without `dataFile`, a restart loses every object. With it, objects are snapshotted (debounced, and on
//   close) and a watch may resume from exactly the last persisted version.
// - Pods and Services drop `status` on create, like the real registry: set pod IPs through
//   PUT/PATCH .../pods/<name>/status (as a kubelet does). Nodes keep the status they are created with.
// - Deletion is immediate (no graceful pod termination); objects with finalizers get a deletionTimestamp
//   and go when the last finalizer is removed; deleting a namespace deletes its contents at once.
// - kubectl sends a bearer token only over TLS: use `tls: true` together with `token` for kubectl.
//   client-node needs `insecure-skip-tls-verify` for http://, which writeKubeconfig() sets.
// - Watches as kube-apiserver runs them: BOOKMARK events when allowed (`bookmarkIntervalMs`, and one before
//   the server ends a stream); a watch without timeoutSeconds ends after [min, 2*min] of
//   `minRequestTimeoutMs` (--min-request-timeout, 30 min); the history is bounded by `watchHistory` and,
//   with `compactionIntervalMs`, compacted like etcd. A resume from a compacted version gets 410 Expired
//   as an ERROR event in a 200 stream (the watch cache's way) or, with `expiredWatch: 'http'`, an HTTP 410.
// - Test and lab hooks, on the handle and as POST /debug/krt/...: compact (`?resourceVersion=`),
//   watches/close and watches/expire (`?resource=pods`; expire = compact + ERROR 410 into open streams),
//   watches/hold and watches/release (new watch requests wait, so a client misses what happens meanwhile).
// - A client-node informer whose watch drops while the server is down gets ECONNREFUSED once and stops
//   (emits 'error'); its owner must call start() again, after which it resumes or relists.
export { startApiServer } from './server.js';
export type { ApiServerOptions, ApiServerHandle } from './server.js';
export { apiserverCommand } from './cli.js';
export { kubeconfigText } from './kubeconfig.js';

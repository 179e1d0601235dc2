// The pod side of DSR: inside a backend pod's network namespace, an IPIP interface (kube-tunnel-if, local
// = the pod IP) that decapsulates what IPVS tunnels to the pod and holds the service VIPs, so the pod's
// server accepts the inner packet and answers from the VIP. Reverse-path filtering would drop the inner
// packet (its source, the client, is routed out of eth0, not the tunnel): off on the tunnel interface,
// and loose where the pod's "all" setting is strict (the kernel uses the larger of the two). The strict
// value is remembered in the tunnel interface's alias (so it outlives an agent restart and goes with the
// interface) and put back when the interface is removed, unless someone changed "all" meanwhile.
import { access } from 'node:fs/promises';
import type { Exec } from '../../../dataplane/exec.js';
import { TUNNEL_IF } from './pod-netns.js';

/** The tunnel interface's alias when we loosened the pod's all.rp_filter: the value before, after the `=`. */
export const RP_FILTER_ALIAS = 'krt-rp_filter-was=';

/** Exit code of the script when the namespace no longer holds the pod IP (a stale path: look again). */
export const NOT_THIS_POD = 3;

/** `ip -batch` lines that turn the tunnel state `have` (undefined: no interface) into `want` (undefined: none). */
export function tunnelBatch(podIP: string, have: readonly string[] | undefined, want: readonly string[] | undefined): string[] {
  if (!want) return have ? [`link del ${TUNNEL_IF}`] : [];
  const out: string[] = [];
  if (!have) out.push(`link add ${TUNNEL_IF} type ipip local ${podIP}`, `link set ${TUNNEL_IF} up`);
  const h = new Set(have ?? []);
  const w = new Set(want);
  for (const vip of want) if (!h.has(vip)) out.push(`addr add ${vip}/32 dev ${TUNNEL_IF}`);
  for (const vip of have ?? []) if (!w.has(vip)) out.push(`addr del ${vip}/32 dev ${TUNNEL_IF}`);
  return out;
}

/**
 * Runs `batch` in the namespace at `path`, in one process: first checks that the namespace still holds
 * `podIP` (a reused pod IP or a recycled PID must not get our interface), then the batch, then the
 * rp_filter settings when the interface exists afterwards. Returns false when the namespace is gone or not the pod's.
 */
export async function applyTunnel(exec: Exec, path: string, podIP: string, batch: readonly string[], keep: boolean): Promise<boolean> {
  // A deleted pod's namespace (or an exited process's) is no error: there is nothing left to change in it.
  if (!(await access(path).then(() => true, () => false))) return false;
  const all = '/proc/sys/net/ipv4/conf/all/rp_filter';
  const script = [
    `ip -o -4 addr show | grep -qF " inet ${podIP}/" || exit ${NOT_THIS_POD}`,
    // Read before the batch, which may delete the interface that holds it.
    `was=$(ip -o link show dev ${TUNNEL_IF} 2>/dev/null | sed -n 's/.* alias ${RP_FILTER_ALIAS}\\([0-9]\\).*/\\1/p')`,
    'ip -batch -',
    ...(keep
      ? [
          `echo 0 > /proc/sys/net/ipv4/conf/${TUNNEL_IF}/rp_filter`,
          `if [ "$(cat ${all})" = 1 ]; then ip link set dev ${TUNNEL_IF} alias ${RP_FILTER_ALIAS}1 && echo 2 > ${all}; fi`,
        ]
      : [`if [ -n "$was" ] && [ "$(cat ${all})" = 2 ]; then echo "$was" > ${all}; fi`]),
  ].join(' && ');
  const r = await exec('nsenter', [`--net=${path}`, 'sh', '-c', script], { input: batch.join('\n') + '\n', okCodes: [NOT_THIS_POD] });
  return r.code === 0;
}

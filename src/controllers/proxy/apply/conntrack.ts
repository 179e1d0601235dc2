// Deletes the conntrack entries of UDP flows to one removed backend of one service: original
// destination VIP:port, replies from backend:targetPort. Entries of the other backends, and of other
// services to the same backend, stay. Needs the conntrack tool (Debian package conntrack).
import type { Exec } from '../../../dataplane/exec.js';
import type { UdpDestination } from '../compile/udp-flush.js';

export function conntrackDeleteArgs(d: UdpDestination): string[] {
  return ['-D', '-p', 'udp', '--orig-dst', d.vip, '--orig-port-dst', String(d.port), '--reply-src', d.address, '--reply-port-src', String(d.targetPort)];
}

/**
 * Flushes each destination; returns how many entries went. conntrack exits 1 when nothing matched,
 * which is the common case (no client was talking to that backend) and no error.
 */
export async function flushUdpConntrack(exec: Exec, dests: readonly UdpDestination[], bin = 'conntrack'): Promise<number> {
  let deleted = 0;
  for (const d of dests) {
    const r = await exec(bin, conntrackDeleteArgs(d), { okCodes: [1] });
    const m = /(\d+) flow entries have been deleted/.exec(r.stderr + r.stdout);
    if (m) deleted += Number(m[1]);
  }
  return deleted;
}

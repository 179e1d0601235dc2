// Helpers for the routing tests that run on the lab (test/lab-routing-*.test.ts): a pod pinned to a node,
// polling, and a one-shot server that reports the client address it saw (NAT check).
import type { Lab } from '../src/lab/index.js';
import { waitFor } from '../src/testing/wait.js';

export const pinnedPod = (name: string, node: string) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] },
});

/** stdout of a shell script on a lab target; throws with stderr on a non-zero exit. */
export async function labSh(lab: Lab, target: string, script: string): Promise<string> {
  const r = await lab.exec(target, ['sh', '-c', script]);
  if (r.code !== 0) throw new Error(`${target}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/**
 * TCP from `client` to `ip:port`, where `server` listens once and answers with the peer address it saw.
 * The client retries (the listener starts concurrently); returns "no answer ..." after `attempts` tries.
 * Both ends wait up to 5 s (-t5) after the client's half-close (its stdin is empty) for the answer: the
 * server forks `echo` for it, which can take more than socat's default 0.5 s in a busy user-mode Linux, and
 * a client that stopped reading sooner would leave the one-shot server spent and itself without an answer.
 */
export async function peerSeen(lab: Lab, server: string, client: string, ip: string, port: number, attempts = 25): Promise<string> {
  const srv = lab.exec(server, ['sh', '-c', `timeout ${Math.ceil(attempts * 1.2) + 3} socat -T5 -t5 TCP-LISTEN:${port},reuseaddr SYSTEM:'echo $SOCAT_PEERADDR'`]);
  const cli = lab.exec(client, ['sh', '-c', `for i in $(seq 1 ${attempts}); do o=$(socat -T5 -t5 - TCP:${ip}:${port},connect-timeout=1 </dev/null 2>/dev/null); ` +
    `[ -n "$o" ] && { echo "$o"; exit 0; }; sleep 0.2; done; exit 1`]);
  const [s, c] = await Promise.all([srv, cli]);
  return c.code === 0 ? c.stdout.trim() : `no answer (server exit ${s.code})`;
}

/** A new pod's traffic is rejected until its node's firewall has programmed it: retry the probe. */
export async function reaches(lab: Lab, from: string, ip: string, timeoutMs = 30_000): Promise<boolean> {
  return waitFor(`${from} -> ${ip}:80`, () => lab.probe(from, ip, 80, 'TCP', 3000), timeoutMs, 500).then(() => true, () => false);
}

// One libipset session (the netfilter addon, dataplane/netfilter/native) for the agent's own
// namespace, shared by the controllers whose commands run here: `ipset save` and small `ipset -exist
// restore` batches without a process. Inside user-mode Linux each `ipset` start is ~0.5-1 s of wall time at
// start-up, and the proxy's VIP firewall and the router's forward/egress sets each read and write once there.
// Without the addon (or for any other Exec, or KRT_EXEC_NATIVE=0) the binary runs as before.
import { openIpsetContext, type IpsetContext } from '../netfilter/native/addon.js';
import { runsHere, type Exec } from '../exec.js';

/** Above this many lines a batch goes to `ipset restore` (one netlink batch, off the event loop). */
const RESIDENT_MAX_LINES = 2000;

let session: IpsetContext | null | undefined;

function residentHere(exec: Exec): IpsetContext | undefined {
  if (!runsHere(exec) || process.env['KRT_EXEC_NATIVE'] === '0') return undefined;
  if (session === undefined) {
    const s = openIpsetContext();
    session = s instanceof Error ? null : s;
  }
  return session ?? undefined;
}

/** What `ipset save` prints. */
export async function ipsetSave(exec: Exec): Promise<string> {
  const saved = residentHere(exec)?.save();
  return saved ?? (await exec('ipset', ['save'])).stdout;
}

/** `ipset -exist restore` of `text` (lines ending in newlines); nothing runs for an empty text. */
export async function ipsetRestoreExist(exec: Exec, text: string): Promise<void> {
  if (!text) return;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const s = residentHere(exec);
  if (s && lines.length <= RESIDENT_MAX_LINES) s.run(lines);
  else await exec('ipset', ['-exist', 'restore'], { input: text });
}

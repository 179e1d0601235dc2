// Network namespaces for interop tests: our speaker in "a", daemons in "b" (and "c"), joined by veth pairs
// created inside the namespaces (nothing is added to the root namespace).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Link {
  readonly nsA: string;
  readonly nsB: string;
  readonly v4A: string;
  readonly v4B: string;
  readonly v6A: string;
  readonly v6B: string;
}

export async function sh(ns: string | undefined, cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
  const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : [...args];
  const { stdout } = await run(ns ? 'ip' : cmd, argv, { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

export function removeNamespaces(prefix: string): void {
  let list = '';
  try { list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }); } catch { return; }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (name && name.startsWith(prefix)) {
      try { execFileSync('ip', ['netns', 'del', name]); } catch { /* already gone */ }
    }
  }
}

export async function addNamespace(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  await sh(name, 'ip', ['link', 'set', 'lo', 'up']);
}

/** A veth pair between two namespaces with IPv4 /24 and IPv6 /64 addresses (subnet index `n`). */
export async function addLink(nsA: string, nsB: string, n: number, ifA = `veth${n}a`, ifB = `veth${n}b`): Promise<Link> {
  await sh(nsA, 'ip', ['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  const link: Link = { nsA, nsB, v4A: `10.99.${n}.1`, v4B: `10.99.${n}.2`, v6A: `fd99:0:0:${n}::1`, v6B: `fd99:0:0:${n}::2` };
  await sh(nsA, 'ip', ['addr', 'add', `${link.v4A}/24`, 'dev', ifA]);
  await sh(nsB, 'ip', ['addr', 'add', `${link.v4B}/24`, 'dev', ifB]);
  await sh(nsA, 'ip', ['-6', 'addr', 'add', `${link.v6A}/64`, 'dev', ifA, 'nodad']);
  await sh(nsB, 'ip', ['-6', 'addr', 'add', `${link.v6B}/64`, 'dev', ifB, 'nodad']);
  await sh(nsA, 'ip', ['link', 'set', ifA, 'up']);
  await sh(nsB, 'ip', ['link', 'set', ifB, 'up']);
  return link;
}

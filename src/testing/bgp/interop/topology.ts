// The address plan every interop test file uses (each in its own namespaces, so plans do not clash):
// link 1 joins our namespace "a" to the daemon in "b", link 2 joins "a" to a second daemon in "c" (route
// reflection). Extra addresses on link 1 in "a" host the negative tests.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addLink, addNamespace, removeNamespaces, sh, type Link } from './netns.js';

export interface Topology {
  readonly prefix: string;
  readonly a: string;
  readonly b: string;
  readonly c: string;
  readonly l1: Link;
  readonly l2: Link;
  readonly dir: string;
  /** Our extra addresses on link 1. */
  readonly wrongAsAddr: string;
  readonly weRejectAddr: string;
  readonly md5Addr: string;
  readonly md5WrongAddr: string;
}

export async function buildTopology(tag: string): Promise<Topology> {
  const prefix = `krt-bgp-${tag}-`;
  removeNamespaces(prefix);
  const [a, b, c] = [`${prefix}a`, `${prefix}b`, `${prefix}c`];
  for (const ns of [a, b, c]) await addNamespace(ns);
  const l1 = await addLink(a, b, 1);
  const l2 = await addLink(a, c, 2);
  const extra = ['10.99.1.3', '10.99.1.4', '10.99.1.6', '10.99.1.7'];
  for (const x of extra) await sh(a, 'ip', ['addr', 'add', `${x}/24`, 'dev', 'veth1a']);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // FRR runs as user frr and must reach its state directory
  return { prefix, a, b, c, l1, l2, dir, wrongAsAddr: extra[0]!, weRejectAddr: extra[1]!, md5Addr: extra[2]!, md5WrongAddr: extra[3]! };
}

export function destroyTopology(t: Topology | undefined, tag: string): void {
  removeNamespaces(t?.prefix ?? `krt-bgp-${tag}-`);
  if (t) rmSync(t.dir, { recursive: true, force: true });
}

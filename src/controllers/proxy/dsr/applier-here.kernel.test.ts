// The DSR applier run as the agent runs it (execHost, inside the node's own namespace), iptables-legacy as in
// the lab: on a node where the kernel says nothing of DSR's can exist (no mangle table, no rule looking up
// tables 78/79, both empty) the first sync makes none of its four reads; anything left over from an
// earlier run (a crash mid-apply can leave any one piece) still makes it read and clean up.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Exec } from '../../../dataplane/exec.js';
import { Netns } from '../../../testing/firewall/netns.js';

const pexec = promisify(execFile);
const netns = new Netns('krt-dsrh-');
afterAll(async () => {
  await netns.destroyAll();
});

/** One empty-plan sync by a fresh applier inside `ns`: its report and the commands it ran. */
async function syncEmptyPlan(ns: string): Promise<{ changed: boolean; commands: string[] }> {
  const { stdout, stderr } = await pexec('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'src/testing/proxy/dsr-empty-plan.ts'], {
    env: { ...process.env, KRT_EXEC_TRACE: '1' },
    timeout: 60_000,
  });
  const commands = stderr.split('\n').filter((l) => l.startsWith('exec-trace ')).map((l) => l.split(' ').slice(4).join(' '));
  return { changed: (JSON.parse(stdout.trim().split('\n').pop()!) as { changed: boolean }).changed, commands };
}

const traces = async (node: Exec): Promise<string[]> => {
  const mangle = (await node('iptables-legacy-save', ['-t', 'mangle'])).stdout.split('\n').filter((l) => /DSR/.test(l));
  const rules = (await node('ip', ['rule', 'show'])).stdout.split('\n').filter((l) => /lookup (78|79)/.test(l));
  const routes = await Promise.all([78, 79].map(async (t) => (await node('ip', ['route', 'show', 'table', String(t)], { okCodes: [2] })).stdout.trim()));
  return [...mangle, ...rules, ...routes.filter(Boolean)];
};

describe('DSR applier on the agent runner, nothing of ours in the kernel', () => {
  let ns: string, node: Exec;
  let n = 0;
  beforeEach(async () => {
    ns = await netns.add(`n${n++}`);
    node = netns.exec(ns);
  });

  it("a node that never used DSR: no reads, no writes (the router's policy rule at 32765 is not ours)", async () => {
    await node('ip', ['rule', 'add', 'from', '10.244.0.0/24', 'lookup', '77']);
    expect((await node('ip', ['rule', 'show'])).stdout).toContain('32765:\tfrom 10.244.0.0/24 lookup 77');
    const r = await syncEmptyPlan(ns);
    expect(r).toEqual({ changed: false, commands: [] });
  });

  it('a left-over fwmark rule alone (no mangle table, no routes) is read and removed', async () => {
    await node('ip', ['rule', 'add', 'prio', '32764', 'fwmark', '0x7b', 'table', '78']);
    const r = await syncEmptyPlan(ns);
    expect(r.commands).toContain('ip -o rule show');
    expect(r.changed).toBe(true);
    expect(await traces(node)).toEqual([]);
  });

  it('a left-over table 79 route alone is read and removed', async () => {
    await node('ip', ['route', 'add', '192.0.2.20', 'dev', 'lo', 'scope', 'link', 'table', '79']);
    const r = await syncEmptyPlan(ns);
    expect(r.changed).toBe(true);
    expect(await traces(node)).toEqual([]);
  });

  it('a left-over marking chain and jump alone are read and removed', async () => {
    await node('iptables-legacy-restore', ['--noflush'], {
      input: '*mangle\n:KUBE-ROUTER-DSR - [0:0]\n-A PREROUTING -m comment --comment "kube-router-ts DSR" -j KUBE-ROUTER-DSR\nCOMMIT\n',
    });
    const r = await syncEmptyPlan(ns);
    expect(r.commands).toContain('iptables-legacy-save -t mangle');
    expect(r.changed).toBe(true);
    expect(await traces(node)).toEqual([]);
  });
});

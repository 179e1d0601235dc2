// The rtnetlink reads against `ip` in the same namespace (the test runner's): the same addresses, the same
// rules, the same number of routes per table, and an unused table reads as empty as `ip` says (exit 2).
import { describe, expect, it } from 'vitest';
import { execHost } from '../exec.js';
import { countTableRoutes, readAddresses, readRules } from './rtnl-read.js';

describe('rtnetlink reads match ip(8)', () => {
  it('addresses: every address `ip -o addr show` prints, with its link index and scope', async () => {
    const lines = (await execHost('ip', ['-o', 'addr', 'show'])).stdout.split('\n').filter(Boolean);
    const want = lines.map((l) => {
      const m = /^(\d+):\s+\S+\s+inet6? ([0-9a-f:.]+)(?:\/| peer )/.exec(l)!;
      return `${m[1]} ${m[2]} ${/ scope (\w+)/.exec(l)![1]}`;
    });
    const scopes: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host' };
    const got = readAddresses()!.map((a) => `${a.ifindex} ${a.address} ${scopes[a.scope] ?? a.scope}`);
    expect(got.sort()).toEqual(want.sort());
  });

  it('rules of both families: priority and table as `ip rule` prints them', async () => {
    const tables: Record<string, number> = { local: 255, main: 254, default: 253 };
    for (const family of [4, 6] as const) {
      const lines = (await execHost('ip', [`-${family}`, '-o', 'rule', 'show'])).stdout.split('\n').filter(Boolean);
      const want = lines.map((l) => {
        const [, prio, table] = /^(\d+):.* lookup (\S+)/.exec(l)!;
        return `${prio} ${tables[table!] ?? Number(table)}`;
      });
      expect(readRules(family)!.map((r) => `${r.priority} ${r.table}`)).toEqual(want);
    }
  });

  it('routes per table: main and local as many as `ip route show table`, a table never used empty', async () => {
    for (const table of [254, 255]) {
      const n = (await execHost('ip', ['-4', '-o', 'route', 'show', 'table', String(table)])).stdout.split('\n').filter(Boolean).length;
      expect(countTableRoutes(table)).toBe(n);
    }
    const unused = await execHost('ip', ['-4', 'route', 'show', 'table', '4242'], { okCodes: [2] });
    expect(unused.code).toBe(2);
    expect(countTableRoutes(4242)).toBe(0);
  });
});

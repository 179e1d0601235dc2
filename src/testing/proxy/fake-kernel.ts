// A stand-in for the kernel state the proxy applier programs, for unit tests of its caching (the real
// thing is IPVS in user-mode Linux, test/lab-proxy.uml.test.ts): an Exec that keeps an IPVS table,
// kube-dummy-if's addresses and the nat table, and answers the commands the applier runs as the real tools
// do, including their failures: `ipvsadm -R` applies its lines in order and stops at the first one the
// kernel refuses (adding a real server to a missing service, adding a service twice), leaving the lines
// before it applied. Tests assert the state it ends in, and can change it behind the applier's back.
import { ExecError, type Exec, type ExecResult } from '../../dataplane/exec.js';

interface Dest {
  weight: number;
  method: string;
}

export interface FakeService {
  proto: string;
  hostPort: string;
  scheduler: string;
  flags: string;
  persistence?: string;
  dests: Map<string, Dest>;
}

export class FakeProxyKernel {
  readonly ipvs = new Map<string, FakeService>();
  /** kube-dummy-if's addresses with their prefix length (undefined: no such link). */
  dummy: Map<string, number> | undefined;
  readonly nat = new Map<string, string[]>([['POSTROUTING', []]]);
  /** ip6tables' nat table (iptables' is `nat`). */
  readonly nat6 = new Map<string, string[]>([['POSTROUTING', []]]);
  /** How many times each tool was run, by "tool subcommand" (e.g. "ipvsadm -S"): what a read costs. */
  readonly runs = new Map<string, number>();

  readonly exec: Exec = async (cmd, args, opts = {}) => {
    const what = `${cmd} ${args[0] ?? ''}`;
    this.runs.set(what, (this.runs.get(what) ?? 0) + 1);
    const fail = (msg: string): never => {
      throw new ExecError(cmd, args, 1, null, `${msg}\n`, '', false);
    };
    const out = (stdout = ''): ExecResult => ({ stdout, stderr: '', code: 0 });
    if (cmd === 'ipvsadm' && args[0] === '-S') return out(this.save());
    if (cmd === 'ipvsadm' && args[0] === '-R') {
      let n = 0;
      for (const line of (opts.input ?? '').split('\n')) {
        n++;
        if (line.trim()) {
          const err = this.ipvsLine(line.trim().split(/\s+/));
          if (err) fail(`${err}\nipvsadm: line ${n} failed`);
        }
      }
      return out();
    }
    if (cmd === 'ip' && args[0] === '-o') {
      if (!this.dummy) return { stdout: '', stderr: 'Device "kube-dummy-if" does not exist.\n', code: 1 };
      return out([...this.dummy].map(([ip, plen]) => (ip.includes(':')
        ? `9: kube-dummy-if    inet6 ${ip}/${plen} scope ${ip.startsWith('fe80:') ? 'link' : 'global'} \\       valid_lft forever preferred_lft forever`
        : `9: kube-dummy-if    inet ${ip}/${plen} scope global kube-dummy-if\\       valid_lft forever preferred_lft forever`)).join('\n'));
    }
    if (cmd === 'ip' && args[0] === '-batch') {
      for (const line of (opts.input ?? '').split('\n')) {
        const t = line.trim().split(/\s+/);
        const [addr, plen] = (t[2] ?? '').split('/') as [string, string | undefined];
        // As the kernel does: an IPv6-capable link gets its own link-local address when it comes up.
        if (t[0] === 'link' && t[1] === 'add') this.dummy = new Map([['fe80::44c9:39ff:fef9:ad4a', 64]]);
        else if (t[0] === 'addr' && t[1] === 'add') {
          if (!this.dummy) fail('Cannot find device "kube-dummy-if"');
          if (this.dummy!.has(addr)) fail('RTNETLINK answers: File exists');
          this.dummy!.set(addr, Number(plen));
        } else if (t[0] === 'addr' && t[1] === 'del') {
          // The prefix length must match the address's, or the kernel finds no such address.
          if (this.dummy?.get(addr) !== Number(plen)) fail('RTNETLINK answers: Cannot assign requested address');
          this.dummy!.delete(addr);
        }
      }
      return out();
    }
    if (cmd === 'ip') return out();
    const nat = cmd.startsWith('ip6tables') ? this.nat6 : this.nat;
    if (cmd.endsWith('-save')) {
      const lines = ['*nat', ...[...nat.keys()].map((c) => `:${c} ${c === 'POSTROUTING' ? 'ACCEPT' : '-'} [0:0]`)];
      for (const [c, rules] of nat) for (const r of rules) lines.push(`-A ${c} ${r}`);
      return out([...lines, 'COMMIT', ''].join('\n'));
    }
    if (cmd.endsWith('-restore')) {
      for (const line of (opts.input ?? '').split('\n')) {
        const m = /^(:|-A |-I |-D |-F |-X )(\S+)(?: - \[0:0\]| (?:1 )?(.*))?$/.exec(line);
        if (!m) continue;
        const [, op, chain, rule] = m as unknown as [string, string, string, string | undefined];
        if (op === ':' || op === '-F ') nat.set(chain, []);
        else if (op === '-X ') nat.delete(chain);
        else if (op === '-A ') nat.get(chain)?.push(rule ?? '');
        else if (op === '-I ') nat.get(chain)?.unshift(rule ?? '');
        else if (op === '-D ') nat.set(chain, (nat.get(chain) ?? []).filter((r) => r !== rule));
      }
      return out();
    }
    return fail(`fake kernel: ${cmd} is not simulated`);
  };

  /** Applies one ipvsadm -R line; returns the kernel's refusal, if any. */
  private ipvsLine(t: string[]): string | undefined {
    const opt = (name: string) => {
      const i = t.indexOf(name, 3);
      return i > 0 ? t[i + 1] : undefined;
    };
    const key = `${t[1]} ${t[2]}`;
    const svc = this.ipvs.get(key);
    switch (t[0]) {
      case '-A':
        if (svc) return 'Service already exists';
        this.ipvs.set(key, { proto: t[1]!, hostPort: t[2]!, scheduler: opt('-s') ?? 'wlc', flags: opt('-b') ?? '', ...(opt('-p') ? { persistence: opt('-p')! } : {}), dests: new Map() });
        return undefined;
      case '-E':
        if (!svc) return 'No such service';
        this.ipvs.set(key, { ...svc, scheduler: opt('-s') ?? 'wlc', flags: opt('-b') ?? '', ...(opt('-p') ? { persistence: opt('-p')! } : { persistence: undefined }) });
        return undefined;
      case '-D':
        if (!svc) return 'No such service';
        this.ipvs.delete(key);
        return undefined;
      case '-a':
      case '-e': {
        if (!svc) return 'Service not defined';
        const r = opt('-r')!;
        if (t[0] === '-a' && svc.dests.has(r)) return 'Destination already exists';
        if (t[0] === '-e' && !svc.dests.has(r)) return 'No such destination';
        svc.dests.set(r, { weight: Number(opt('-w') ?? 1), method: t.includes('-g') ? 'g' : t.includes('-i') ? 'i' : 'm' });
        return undefined;
      }
      case '-d':
        if (!svc) return 'Service not defined';
        if (!svc.dests.delete(opt('-r')!)) return 'No such destination';
        return undefined;
      default:
        return `fake kernel: ipvsadm ${t[0]} is not simulated`;
    }
  }

  /** `ipvsadm -S -n`. */
  save(): string {
    const out: string[] = [];
    for (const s of this.ipvs.values()) {
      out.push(`-A ${s.proto} ${s.hostPort} -s ${s.scheduler}${s.flags ? ` -b ${s.flags}` : ''}${s.persistence ? ` -p ${s.persistence}` : ''}`);
      for (const [r, d] of s.dests) out.push(`-a ${s.proto} ${s.hostPort} -r ${r} -${d.method} -w ${d.weight}`);
    }
    return out.join('\n') + '\n';
  }

  /** kube-dummy-if's addresses, sorted. */
  vips(): string[] {
    return [...(this.dummy?.keys() ?? [])].sort();
  }

  /** The table as "service -> real servers with weights", sorted: what tests compare. */
  table(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, s] of [...this.ipvs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[`${k} ${s.scheduler}${s.persistence ? ` p${s.persistence}` : ''}`] = [...s.dests].map(([r, d]) => `${r} w${d.weight}`).sort();
    }
    return out;
  }
}

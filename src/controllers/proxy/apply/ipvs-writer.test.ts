import { describe, expect, it } from 'vitest';
import { execHost, type Exec } from '../../../dataplane/exec.js';
import { chooseIpvsWriter, ipvsadmWriter } from './ipvs-writer.js';

describe('choosing the IPVS writer', () => {
  it('KRT_IPVS_WRITER=ipvsadm forces the fallback, and says so', () => {
    const c = chooseIpvsWriter(execHost, { KRT_IPVS_WRITER: 'ipvsadm' });
    expect(c.writer.name).toBe('ipvsadm');
    expect(c.fallbackReason).toBe('KRT_IPVS_WRITER=ipvsadm');
  });

  it('commands that run elsewhere (a namespace Exec) get ipvsadm through that Exec, never this process netlink socket', () => {
    const elsewhere: Exec = (cmd, args, o) => execHost(cmd, args, o);
    const c = chooseIpvsWriter(elsewhere, {});
    expect(c.writer.name).toBe('ipvsadm');
    expect(c.fallbackReason).toContain('outside this process');
  });

  it('the fallback renders the operations as one ipvsadm -R and reads ipvsadm -S -n', async () => {
    const runs: { cmd: string; args: readonly string[]; input?: string }[] = [];
    const exec: Exec = async (cmd, args, o) => {
      runs.push({ cmd, args, ...(o?.input !== undefined ? { input: o.input } : {}) });
      return { code: 0, stderr: '', stdout: '-A -u 10.96.0.10:53 -s rr\n-a -u 10.96.0.10:53 -r 10.244.0.2:53 -m -w 1\n' };
    };
    const w = ipvsadmWriter(exec);
    const svc = { protocol: 'udp' as const, address: '10.96.0.10', port: 53 };
    await w.write([{ op: 'add-service', service: { ...svc, scheduler: 'rr', flags: [] } }, { op: 'del-dest', service: svc, dest: { address: '10.244.0.2', port: 53 } }]);
    await w.write([]);
    expect(runs).toEqual([{ cmd: 'ipvsadm', args: ['-R'], input: '-A -u 10.96.0.10:53 -s rr\n-d -u 10.96.0.10:53 -r 10.244.0.2:53\n' }]);
    expect(await w.read()).toEqual([{ ...svc, scheduler: 'rr', flags: [], dests: [{ address: '10.244.0.2', port: 53, weight: 1, method: 'm' }] }]);
  });
});

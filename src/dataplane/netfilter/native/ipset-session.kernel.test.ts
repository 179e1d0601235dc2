// The resident libipset session against the ipset binary in one namespace: its save prints what `ipset
// save` prints (headers, members, comments, both families, nothing at all for no sets), and what its run
// writes the binary reads back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../exec.js';
import { Netns } from '../../../testing/firewall/netns.js';
import { openIpsetContext, type IpsetContext } from './addon.js';

const netns = new Netns('krt-ipss-');
afterAll(async () => {
  await netns.destroyAll();
});

describe('resident libipset session', () => {
  let ns: string, node: Exec, ctx: IpsetContext;
  beforeAll(async () => {
    ns = await netns.add('n');
    node = netns.exec(ns);
    const c = openIpsetContext(ns);
    if (c instanceof Error) throw c;
    ctx = c;
  });

  it('save of a namespace without sets is empty, as the binary says', async () => {
    expect((await node('ipset', ['save'])).stdout).toBe('');
    expect(ctx.save()).toBe('');
  });

  it('save prints exactly what `ipset save` prints', async () => {
    await node('ipset', ['restore'], {
      input: [
        'create kube-router-svip hash:ip family inet hashsize 1024 maxelem 65536', 'add kube-router-svip 10.96.0.1', 'add kube-router-svip 10.96.0.10',
        'create inet6:kube-router-pod-subnets hash:net family inet6 maxelem 1024', 'add inet6:kube-router-pod-subnets fd00:244::/64',
        'create ports hash:ip,port family inet comment', 'add ports 10.96.0.1,tcp:443 comment "default/kubernetes https"', '',
      ].join('\n'),
    });
    const binary = (await node('ipset', ['save'])).stdout;
    expect(binary.split('\n').filter(Boolean).length).toBe(7);
    expect(ctx.save()).toBe(binary);
  });

  it('what run writes, save and the binary read back alike', async () => {
    ctx.run(['add kube-router-svip 10.96.0.11', 'del kube-router-svip 10.96.0.1', 'create more hash:ip', 'add more 192.0.2.1']);
    const binary = (await node('ipset', ['save'])).stdout;
    expect(binary).toContain('add kube-router-svip 10.96.0.11\n');
    expect(binary).not.toContain('add kube-router-svip 10.96.0.1\n');
    expect(binary).toContain('add more 192.0.2.1\n');
    expect(ctx.save()).toBe(binary);
  });
});

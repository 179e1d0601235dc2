// The pod side of DSR on the real kernel, rp_filter part: a pod namespace whose all.rp_filter is strict is
// loosened while it holds kube-tunnel-if and gets its value back when the interface goes, even across an
// agent restart (the value is kept on the interface, not in the agent: every applyTunnel call here is
// as a fresh agent's). The host has no ipip, so the
// interface is made beforehand as a bridge: applyTunnel then only adds and deletes (the full ipip path runs
// in test/uml-cases/dsr.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execHost, type Exec } from '../../../dataplane/exec.js';
import { Netns } from '../../../testing/firewall/netns.js';
import { applyTunnel } from './pod-tunnel.js';
import { TUNNEL_IF } from './pod-netns.js';

const netns = new Netns('krt-dsrp-');
afterAll(() => netns.destroyAll());

const POD_IP = '10.244.0.7';
const VIP = '192.0.2.20';

describe('DSR pod tunnel: all.rp_filter', () => {
  let pod: Exec;
  let path: string;
  const all = async () => (await pod('cat', ['/proc/sys/net/ipv4/conf/all/rp_filter'])).stdout.trim();
  const setAll = (v: number) => pod('sh', ['-c', `echo ${v} > /proc/sys/net/ipv4/conf/all/rp_filter`]);
  const tunnelRp = async () => (await pod('cat', [`/proc/sys/net/ipv4/conf/${TUNNEL_IF}/rp_filter`])).stdout.trim();
  const makeTunnel = () => pod('ip', ['link', 'add', TUNNEL_IF, 'type', 'bridge']);
  const hasTunnel = async () => (await pod('ip', ['-o', 'link', 'show', 'dev', TUNNEL_IF], { okCodes: [1] })).code === 0;
  const add = (vip: string) => applyTunnel(execHost, path, POD_IP, [`addr add ${vip}/32 dev ${TUNNEL_IF}`], true);
  const remove = () => applyTunnel(execHost, path, POD_IP, [`link del ${TUNNEL_IF}`], false);

  beforeAll(async () => {
    const name = await netns.add('pod');
    path = `/run/netns/${name}`;
    pod = netns.exec(name);
    await pod('ip', ['-batch', '-'], { input: 'link add eth0 type veth peer name peer0\n' + `addr add ${POD_IP}/24 dev eth0\nlink set eth0 up\n` });
  });

  it('strict: loosened while the tunnel exists, put back to 1 when it goes; the tunnel itself is off', async () => {
    await setAll(1);
    await makeTunnel();
    expect(await add(VIP)).toBe(true);
    expect(await all()).toBe('2');
    expect(await tunnelRp()).toBe('0');
    // A second change (another VIP) keeps what was found first, not the loosened value.
    expect(await add('192.0.2.21')).toBe(true);
    expect(await all()).toBe('2');
    expect(await remove()).toBe(true);
    expect(await hasTunnel()).toBe(false);
    expect(await all()).toBe('1');
  });

  it('a value the pod had that needs no change (0, 2) is left alone, before and after', async () => {
    for (const v of [0, 2]) {
      await setAll(v);
      await makeTunnel();
      expect(await add(VIP)).toBe(true);
      expect(await all()).toBe(String(v));
      expect(await remove()).toBe(true);
      expect(await all()).toBe(String(v));
    }
  });

  it('a value someone set while the tunnel existed is theirs: not overwritten on removal', async () => {
    await setAll(1);
    await makeTunnel();
    expect(await add(VIP)).toBe(true);
    await setAll(0);
    expect(await remove()).toBe(true);
    expect(await all()).toBe('0');
  });

  it('another pod in the namespace (the IP is not there): nothing runs', async () => {
    await setAll(1);
    await makeTunnel();
    expect(await applyTunnel(execHost, path, '10.244.0.99', [`addr add ${VIP}/32 dev ${TUNNEL_IF}`], true)).toBe(false);
    expect(await all()).toBe('1');
    expect(await hasTunnel()).toBe(true);
    await pod('ip', ['link', 'del', TUNNEL_IF]);
  });
});

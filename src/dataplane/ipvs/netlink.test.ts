// The netlink writer's bookkeeping against a fake socket half (the real kernel: test/ipvs-writer.uml.test.ts):
// sequence numbers, chunking, one failure per refused operation, bad values refused before sending.
import { describe, expect, it } from 'vitest';
import type { GenlSocketAddon } from './native/addon.js';
import { IpvsNetlink } from './netlink.js';
import { parseReplies } from './netlink-codec.js';
import type { IpvsOp } from './types.js';

/** Answers every request with an ack; `refuse(seq-th request overall)` gives an errno instead. */
function fakeKernel(refuse: (n: number) => number = () => 0) {
  const sends: number[] = [];
  let n = 0;
  const ack = (seq: number, errno: number) => {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(36, 0);
    b.writeUInt16LE(2, 4); // NLMSG_ERROR
    b.writeUInt32LE(seq, 8);
    b.writeInt32LE(-errno, 16);
    return b;
  };
  const addon: GenlSocketAddon = {
    open: () => undefined,
    close: () => undefined,
    exchange: (req) => {
      const msgs = parseReplies(req);
      sends.push(msgs.length);
      if (msgs[0]!.type === 0x10) {
        // The controller's answer: family id 0x21.
        const b = Buffer.from('1c000000100000000000000000000000' + '01020000' + '06000100' + '21000000', 'hex');
        b.writeUInt32LE(msgs[0]!.seq, 8);
        return Buffer.concat([b, ack(msgs[0]!.seq, 0)]);
      }
      return Buffer.concat(msgs.map((m) => ack(m.seq, refuse(n++))));
    },
  };
  return { addon, sends };
}

const svc = { protocol: 'tcp' as const, address: '10.96.0.1', port: 80 };
const dest = (i: number): IpvsOp => ({ op: 'add-dest', service: svc, dest: { address: `10.244.${i >> 8}.${i & 255}`, port: 80, weight: 1, method: 'm' } });

describe('IPVS over netlink: batches', () => {
  it('sends a batch in chunks of 512 and reports nothing when every operation is acked', async () => {
    const k = fakeKernel();
    const nl = IpvsNetlink.open(k.addon);
    if (nl instanceof Error) throw nl;
    expect(await nl.apply(Array.from({ length: 1100 }, (_, i) => dest(i)))).toEqual([]);
    expect(k.sends).toEqual([1, 512, 512, 76]);
  });

  it('reports each refused operation by its index, with the errno in words; the others count as applied', async () => {
    const k = fakeKernel((n) => (n === 1 ? 17 : n === 600 ? 3 : 0));
    const nl = IpvsNetlink.open(k.addon);
    if (nl instanceof Error) throw nl;
    const ops = Array.from({ length: 700 }, (_, i) => dest(i));
    ops.splice(5, 0, { op: 'add-dest', service: svc, dest: { address: 'not-an-ip', port: 80, weight: 1, method: 'm' } });
    expect(await nl.apply(ops)).toEqual([
      { index: 1, op: ops[1], message: 'EEXIST (destination already exists)' },
      { index: 5, op: ops[5], message: 'real server: "not-an-ip" is not an IP address' },
      { index: 601, op: ops[601], message: 'ESRCH (no such service)' },
    ]);
  });

  it('an addon that cannot load is a clear Error, not a throw', () => {
    expect(String(IpvsNetlink.open(new Error('IPVS netlink addon unavailable (no cc)')))).toContain('no cc');
  });
});

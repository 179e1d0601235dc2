import { describe, expect, it } from 'vitest';
import { ipvsadmLine, parseIpvsadmSave } from './ipvsadm.js';
import { decodeDest, decodeService, decodeServiceStats, encodeDumpDests, encodeOps, familyIdOf, parseReplies } from './netlink-codec.js';
import type { IpvsDest, IpvsOp, IpvsService } from './types.js';

const FAMILY = 0x1d;

const services: IpvsService[] = [
  { protocol: 'tcp', address: '10.96.0.10', port: 80, scheduler: 'rr', flags: [] },
  { protocol: 'udp', address: '10.96.0.10', port: 53, scheduler: 'sh', flags: ['sh-fallback', 'sh-port'], persistenceSeconds: 10800, onePacket: true },
  { protocol: 'sctp', address: '192.0.2.7', port: 3868, scheduler: 'mh', flags: ['mh-port'], persistenceSeconds: 60, persistenceNetmask: 24 },
  { protocol: 'tcp', address: 'fd00:10:96::a', port: 443, scheduler: 'lc', flags: ['flag-3'], persistenceSeconds: 5, persistenceNetmask: 64 },
  { fwmark: 4242, family: 4, scheduler: 'wrr', flags: [] },
  { fwmark: 7, family: 6, scheduler: 'dh', flags: [] },
];
const dests: IpvsDest[] = [
  { address: '10.244.1.5', port: 8080, weight: 1, method: 'm' },
  { address: '10.244.2.9', port: 0, weight: 0, method: 'i', upperThreshold: 100, lowerThreshold: 10 },
  { address: 'fd00:244::1:5', port: 8443, weight: 7, method: 'g' },
];

describe('IPVS generic netlink messages', () => {
  it('lays out a new TCP service as ip_vs.h and the kernel parser want it', () => {
    const { buf, seqs } = encodeOps(FAMILY, 41, [{ op: 'add-service', service: services[0]! }]);
    expect(seqs).toEqual([41]);
    expect(buf.readUInt32LE(0)).toBe(buf.length); // nlmsg_len
    expect(buf.readUInt16LE(4)).toBe(FAMILY);
    expect(buf.readUInt16LE(6)).toBe(0x1 | 0x4); // REQUEST | ACK
    expect(buf.readUInt32LE(8)).toBe(41);
    expect([buf[16], buf[17]]).toEqual([1, 1]); // IPVS_CMD_NEW_SERVICE, version 1
    // IPVS_CMD_ATTR_SERVICE, nested, then AF, PROTOCOL, ADDR(16), PORT(be16), SCHED_NAME, FLAGS, TIMEOUT, NETMASK.
    expect(buf.readUInt16LE(22)).toBe(1 | 0x8000);
    const attrs: [number, string][] = [];
    for (let off = 24; off < buf.length; ) {
      const len = buf.readUInt16LE(off);
      attrs.push([buf.readUInt16LE(off + 2), buf.subarray(off + 4, off + len).toString('hex')]);
      off += (len + 3) & ~3;
    }
    expect(attrs).toEqual([
      [1, '0200'], [2, '0600'], [3, '0a60000a000000000000000000000000'], [4, '0050'],
      [6, Buffer.from('rr\0').toString('hex')], [7, '00000000ffffffff'], [8, '00000000'], [9, 'ffffffff'],
    ]);
  });

  it('reads back every service field it writes (v4, v6, UDP, SCTP, fwmark, flags, persistence, netmask)', () => {
    const { buf, invalid } = encodeOps(FAMILY, 1, services.map((service): IpvsOp => ({ op: 'edit-service', service })));
    expect(invalid.size).toBe(0);
    // A dump reply carries the same attributes as the request that made the service.
    expect(parseReplies(buf).map(decodeService)).toEqual(services);
  });

  it('reads back every destination field it writes (method, weight, thresholds, IPv6)', () => {
    const ops = dests.map((dest): IpvsOp => ({ op: 'add-dest', service: services[0]!, dest }));
    const { buf } = encodeOps(FAMILY, 1, ops);
    // Tunnel and direct routing take the service's port, as ipvsadm gives them.
    expect(parseReplies(buf).map((r) => decodeDest(r, 4))).toEqual([dests[0], { ...dests[1], port: 80 }, { ...dests[2], port: 80 }]);
    // A delete names the destination only.
    const del = encodeOps(FAMILY, 9, [{ op: 'del-dest', service: services[0]!, dest: { address: '10.244.1.5', port: 8080 } }]).buf;
    expect(decodeDest(parseReplies(del)[0]!, 4)).toEqual({ address: '10.244.1.5', port: 8080, weight: 0, method: 'm' });
  });

  it('a fwmark service\'s tunnel and direct-route real servers keep their own port, as ipvsadm leaves them', () => {
    const mark = { fwmark: 4242, family: 4 } as const;
    const ds: IpvsDest[] = [{ address: '10.244.2.9', port: 8080, weight: 1, method: 'i' }, { address: '10.244.3.1', port: 53, weight: 2, method: 'g' }];
    const { buf } = encodeOps(FAMILY, 1, ds.map((dest): IpvsOp => ({ op: 'add-dest', service: mark, dest })));
    expect(parseReplies(buf).map((r) => decodeDest(r, 4))).toEqual(ds);
    expect(ds.map((dest) => ipvsadmLine({ op: 'add-dest', service: mark, dest }))).toEqual(['-a -f 4242 -r 10.244.2.9:8080 -i -w 1', '-a -f 4242 -r 10.244.3.1:53 -g -w 2']);
  });

  it('leaves out an operation with a bad value and says why; the others keep consecutive sequence numbers', () => {
    const ops: IpvsOp[] = [
      { op: 'add-service', service: { ...services[0]!, address: '10.96.0.300' } as IpvsService },
      { op: 'add-service', service: services[0]! },
      { op: 'add-service', service: { ...services[0]!, scheduler: 'no such scheduler' } },
      { op: 'add-dest', service: services[0]!, dest: { ...dests[0]!, weight: -1 } },
      { op: 'add-service', service: { ...services[0]!, flags: ['sh-sideways'] } },
      { op: 'add-service', service: { ...services[2]!, persistenceNetmask: 33 } },
      { op: 'add-dest', service: services[0]!, dest: dests[0]! },
    ];
    const { buf, seqs, invalid } = encodeOps(FAMILY, 100, ops);
    expect(seqs).toEqual([undefined, 100, undefined, undefined, undefined, undefined, 101]);
    expect([...invalid.values()]).toEqual([
      'virtual service: "10.96.0.300" is not an IP address',
      'scheduler "no such scheduler" is not a scheduler name',
      'real server weight -1 is out of range',
      'unknown scheduler flag "sh-sideways"',
      'persistence netmask /33 is out of range',
    ]);
    expect(parseReplies(buf).map((r) => r.seq)).toEqual([100, 101]);
  });

  it('reads a service\'s counters from a dump reply: 64-bit STATS64 where sent, else the 32-bit STATS', () => {
    /** An attribute: type, payload (padded to 4). */
    const attr = (type: number, payload: Buffer) => {
      const b = Buffer.alloc((4 + payload.length + 3) & ~3);
      b.writeUInt16LE(4 + payload.length, 0);
      b.writeUInt16LE(type, 2);
      payload.copy(b, 4);
      return b;
    };
    const u32 = (v: number) => Buffer.from(Uint32Array.of(v).buffer);
    const u64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };
    /** The service's dump reply (the request's layout) with a stats nest appended inside IPVS_CMD_ATTR_SERVICE. */
    const withStats = (svc: IpvsService, nests: Buffer[]) => {
      const msg = parseReplies(encodeOps(FAMILY, 3, [{ op: 'edit-service', service: svc }]).buf)[0]!;
      const inner = Buffer.concat([msg.attrs!.subarray(4), ...nests]);
      const top = attr(1 | 0x8000, inner);
      const head = Buffer.alloc(20);
      head.writeUInt32LE(20 + top.length, 0);
      head.writeUInt16LE(FAMILY, 4);
      head.writeUInt8(1, 16); // IPVS_CMD_NEW_SERVICE: what the kernel's dump replies carry
      return parseReplies(Buffer.concat([head, top]))[0]!;
    };
    const big = 2n ** 40n + 5n;
    // IPVS_SVC_ATTR_STATS64 (12): every field u64; IPVS_STATS_ATTR_CONNS..OUTBPS = 1..10.
    const s64 = attr(12 | 0x8000, Buffer.concat([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((t) => attr(t, u64(t === 4 ? big : BigInt(t * 10))))));
    // IPVS_SVC_ATTR_STATS (10): conns, packets and rates u32, bytes u64; different values, so which one was read shows.
    const s32 = attr(10 | 0x8000, Buffer.concat([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((t) => attr(t, t === 4 || t === 5 ? u64(BigInt(t)) : u32(t)))));
    const fw = services[4]!;
    const r = withStats(fw, [s32, s64]);
    expect(decodeService(r)).toEqual(fw);
    expect(decodeServiceStats(r)).toEqual({ conns: 10, inPkts: 20, outPkts: 30, inBytes: Number(big), outBytes: 50, cps: 60, inPps: 70, outPps: 80, inBps: 90, outBps: 100 });
    expect(decodeServiceStats(withStats(services[0]!, [s32]))).toEqual({ conns: 1, inPkts: 2, outPkts: 3, inBytes: 4, outBytes: 5, cps: 6, inPps: 7, outPps: 8, inBps: 9, outBps: 10 });
    expect(decodeServiceStats(withStats(services[0]!, []))).toBeUndefined();
  });

  it('a destination dump names its service; the family id comes out of the controller reply', () => {
    const d = parseReplies(encodeDumpDests(FAMILY, 5, services[4]!))[0]!;
    expect(d.cmd).toBe(8);
    expect(decodeService(d)).toMatchObject({ fwmark: 4242, family: 4 });
    // CTRL_ATTR_FAMILY_ID (1) = 0x1d in a controller reply.
    const reply = Buffer.from('1c000000100000000100000000000000' + '01020000' + '06000100' + '1d000000', 'hex');
    expect(familyIdOf(parseReplies(reply))).toBe(0x1d);
  });
});

describe('ipvsadm -R lines and ipvsadm -S -n, for the same values', () => {
  it('renders every field and reads it back', () => {
    const lines: string[] = [];
    for (const service of services) {
      lines.push(ipvsadmLine({ op: 'add-service', service }));
      for (const dest of dests.filter((d) => d.address.includes(':') === (service.fwmark !== undefined ? service.family === 6 : service.address.includes(':'))))
        lines.push(ipvsadmLine({ op: 'add-dest', service, dest }));
    }
    expect(lines.slice(0, 5)).toEqual([
      '-A -t 10.96.0.10:80 -s rr',
      '-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 1',
      '-a -t 10.96.0.10:80 -r 10.244.2.9:0 -i -w 0 -x 100 -y 10',
      '-A -u 10.96.0.10:53 -s sh -b sh-fallback,sh-port -p 10800 -o',
      '-a -u 10.96.0.10:53 -r 10.244.1.5:8080 -m -w 1',
    ]);
    expect(lines).toContain('-A --sctp-service 192.0.2.7:3868 -s mh -b mh-port -p 60 -M 255.255.255.0');
    expect(lines).toContain('-A -t [fd00:10:96::a]:443 -s lc -b flag-3 -p 5 -M 64');
    expect(lines).toContain('-A -f 7 -6 -s dh');
    const back = parseIpvsadmSave(lines.join('\n'));
    expect(back.map(({ dests: _d, ...s }) => s)).toEqual(services);
    expect(back[0]!.dests).toEqual(dests.slice(0, 2));
  });
});

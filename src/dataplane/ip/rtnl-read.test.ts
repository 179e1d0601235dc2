// The rtnetlink reader's pure half: requests as the kernel expects them, replies (built here byte by byte
// as the kernel lays them out) parsed into addresses, rules and route tables. The kernel side is
// rtnl-read.kernel.test.ts (the same answers as `ip`).
import { describe, expect, it } from 'vitest';
import { dumpRequest, parseAddresses, parseDump, parseLinks, parseRoutes, parseRules, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWRULE } from './rtnl-read.js';

const attr = (type: number, value: Buffer): Buffer => {
  const a = Buffer.alloc((4 + value.length + 3) & ~3);
  a.writeUInt16LE(4 + value.length, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
};
const msg = (type: number, body: Buffer, ...attrs: Buffer[]): Buffer => {
  const h = Buffer.alloc(16);
  const len = 16 + body.length + attrs.reduce((n, a) => n + a.length, 0);
  h.writeUInt32LE(len, 0);
  h.writeUInt16LE(type, 4);
  return Buffer.concat([h, body, ...attrs]);
};
const done = () => msg(3, u32(0));
const error = (errno: number) => {
  const b = Buffer.alloc(20);
  b.writeInt32LE(-errno, 0);
  return msg(2, b);
};
const ifaddr = (family: number, prefix: number, scope: number, index: number) => {
  const b = Buffer.alloc(8);
  b[0] = family;
  b[1] = prefix;
  b[3] = scope;
  b.writeUInt32LE(index, 4);
  return b;
};

describe('rtnetlink dump requests', () => {
  it('a route dump filtered by table: header, rtmsg, RTA_TABLE; lengths and flags as the kernel reads them', () => {
    const body = Buffer.alloc(12);
    body[0] = 2;
    body[4] = 78;
    const r = dumpRequest(RTM_GETROUTE, body, [[15, u32(78)]]);
    expect(r.length).toBe(16 + 12 + 8);
    expect(r.readUInt32LE(0)).toBe(r.length);
    expect(r.readUInt16LE(4)).toBe(RTM_GETROUTE);
    expect(r.readUInt16LE(6)).toBe(0x301); // NLM_F_REQUEST | NLM_F_DUMP
    expect([...r.subarray(28, 36)]).toEqual([8, 0, 15, 0, 78, 0, 0, 0]);
    expect(dumpRequest(RTM_GETROUTE, body).readUInt32LE(8)).not.toBe(r.readUInt32LE(8)); // a fresh sequence number
  });
});

describe('rtnetlink dump replies', () => {
  it('addresses: the local address before IFA_ADDRESS (a peer), IPv6 in canonical text, scope and link index kept', () => {
    const v6 = Buffer.from('fd000000000000000000000000000002', 'hex');
    const buf = Buffer.concat([
      msg(RTM_NEWADDR, ifaddr(2, 24, 0, 4), attr(1, Buffer.from([10, 0, 0, 2])), attr(2, Buffer.from([10, 0, 0, 1]))),
      msg(RTM_NEWADDR, ifaddr(10, 64, 253, 4), attr(1, v6)),
      done(),
    ]);
    expect(parseAddresses(parseDump(buf, 8))).toEqual([
      { ifindex: 4, address: '10.0.0.1', prefixLen: 24, scope: 0 },
      { ifindex: 4, address: 'fd00::2', prefixLen: 64, scope: 253 },
    ]);
  });

  it('rules: priority, fwmark, source and the 32-bit table attribute over the header byte', () => {
    const hdr = (table: number) => {
      const b = Buffer.alloc(12);
      b[0] = 2;
      b[4] = table;
      return b;
    };
    const buf = Buffer.concat([
      msg(RTM_NEWRULE, hdr(255), attr(15, u32(255))),
      msg(RTM_NEWRULE, hdr(78), attr(6, u32(32764)), attr(10, u32(0x7b)), attr(15, u32(78))),
      msg(RTM_NEWRULE, hdr(252), attr(6, u32(100)), attr(15, u32(1000))),
      done(),
    ]);
    expect(parseRules(parseDump(buf, 12))).toEqual([
      { priority: 0, table: 255, srcLen: 0 },
      { priority: 32764, table: 78, fwmark: 0x7b, srcLen: 0 },
      { priority: 100, table: 1000, srcLen: 0 },
    ]);
  });

  it('routes: table, protocol, destination, gateway, link and source; cloned entries left out', () => {
    const rt = (table: number, proto: number, dstLen: number, flags = 0) => {
      const b = Buffer.alloc(12);
      b[0] = 2;
      b[1] = dstLen;
      b[4] = table;
      b[5] = proto;
      b[7] = 1;
      b.writeUInt32LE(flags, 8);
      return b;
    };
    const buf = Buffer.concat([
      msg(RTM_NEWROUTE, rt(254, 17, 24), attr(1, Buffer.from([10, 244, 1, 0])), attr(5, Buffer.from([172, 20, 0, 12])), attr(4, u32(3)), attr(15, u32(254))),
      msg(RTM_NEWROUTE, rt(252, 17, 0), attr(7, Buffer.from([10, 0, 0, 1])), attr(15, u32(1000))),
      msg(RTM_NEWROUTE, rt(254, 17, 32, 0x200), attr(1, Buffer.from([10, 0, 0, 9])), attr(15, u32(254))),
      done(),
    ]);
    expect(parseRoutes(parseDump(buf, 12))).toEqual([
      { family: 4, table: 254, protocol: 17, type: 1, dst: '10.244.1.0', dstLen: 24, gateway: '172.20.0.12', oif: 3, complexNexthop: false },
      { family: 4, table: 1000, protocol: 17, type: 1, dstLen: 0, prefsrc: '10.0.0.1', complexNexthop: false },
    ]);
  });

  it('links: name, MTU, flags, kind and a tunnel\'s ends from the nested link info', () => {
    const ifinfo = (index: number, flags: number) => {
      const b = Buffer.alloc(16);
      b.writeInt32LE(index, 4);
      b.writeUInt32LE(flags, 8);
      return b;
    };
    const nest = (type: number, ...inner: Buffer[]) => attr(type, Buffer.concat(inner));
    const buf = Buffer.concat([
      msg(RTM_NEWLINK, ifinfo(1, 0x49), attr(3, Buffer.from('lo\0')), attr(4, u32(65536))),
      msg(RTM_NEWLINK, ifinfo(7, 0x10041), attr(3, Buffer.from('tun-ac14000c\0')), attr(4, u32(1480)),
        nest(18, attr(1, Buffer.from('ipip\0')), nest(2, attr(2, Buffer.from([172, 20, 0, 11])), attr(3, Buffer.from([172, 20, 0, 12]))))),
      done(),
    ]);
    expect(parseLinks(parseDump(buf, 16))).toEqual([
      { index: 1, name: 'lo', mtu: 65536, flags: 0x49 },
      { index: 7, name: 'tun-ac14000c', mtu: 1480, flags: 0x10041, kind: 'ipip', local: '172.20.0.11', remote: '172.20.0.12' },
    ]);
  });

  it('an error ends the dump: allowed errnos (a table never created) read as empty, others throw', () => {
    expect(parseDump(error(2), 12, [2])).toEqual([]);
    expect(() => parseDump(error(1), 12, [2])).toThrow(/errno 1/);
    expect(() => parseDump(msg(RTM_NEWROUTE, Buffer.alloc(12)), 12)).toThrow(/without NLMSG_DONE/);
  });
});

import { describe, expect, it } from 'vitest';
import { deepEqual, jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { fieldMatcher, labelMatcher, parseLabelSelector } from './selectors.js';
import { cidrContainsIP, formatCIDR, parseCIDR } from '../model/normalize/cidr.js';
import { formatIP, ipToBigInt, parseIP } from '../model/normalize/ip.js';

describe('strategic merge patch', () => {
  const pod = {
    metadata: { labels: { a: '1' }, finalizers: ['x'] },
    spec: {
      containers: [
        { name: 'a', image: 'a:1', ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 81 }], env: [{ name: 'E', value: '1' }] },
        { name: 'b', image: 'b:1' },
      ],
      tolerations: [{ key: 't' }],
    },
  };

  it('merges keyed lists, replaces atomic ones, and leaves the input alone', () => {
    const before = JSON.stringify(pod);
    const out = strategicMergePatch(pod, {
      metadata: { finalizers: ['y'] },
      spec: {
        $setElementOrder: undefined,
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
        containers: [{ name: 'a', ports: [{ containerPort: 81, name: 'alt' }] }, { name: 'c', image: 'c:1' }],
        tolerations: [{ key: 'u' }],
      },
    }) as typeof pod;
    expect(JSON.stringify(pod)).toBe(before);
    expect(out.metadata.finalizers).toEqual(['x', 'y']);
    expect(out.spec.containers.map((c) => c.name)).toEqual(['a', 'b', 'c']);
    expect(out.spec.containers[0]!.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }, { containerPort: 81, name: 'alt' }]);
    expect(out.spec.containers[0]!.image).toBe('a:1');
    expect(out.spec.tolerations).toEqual([{ key: 'u' }]);
  });

  it('honours $patch delete/replace, $retainKeys, $deleteFromPrimitiveList and null', () => {
    const out = strategicMergePatch(pod, {
      metadata: { labels: { a: null, b: '2' }, '$deleteFromPrimitiveList/finalizers': ['x'] },
      spec: { containers: [{ name: 'b', $patch: 'delete' }, { name: 'a', env: [{ $patch: 'replace' }, { name: 'F', value: '2' }] }] },
    }) as typeof pod;
    expect(out.metadata).toEqual({ labels: { b: '2' }, finalizers: [] });
    expect(out.spec.containers.map((c) => c.name)).toEqual(['a']);
    expect(out.spec.containers[0]!.env).toEqual([{ name: 'F', value: '2' }]);
    const retained = strategicMergePatch({ s: { a: 1, b: 2, c: 3 } }, { s: { $retainKeys: ['a', 'd'], d: 4 } });
    expect(retained).toEqual({ s: { a: 1, d: 4 } });
    expect(strategicMergePatch({ s: { a: 1 } }, { s: { $patch: 'replace', b: 2 } })).toEqual({ s: { b: 2 } });
  });

  it('merge patch and JSON patch follow their RFCs', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({ a: { c: 2, d: 3 }, l: [3] });
    const doc = { a: [1, 2], b: { c: 'x' } };
    expect(jsonPatch(doc, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'remove', path: '/b/c' }, { op: 'copy', from: '/a/0', path: '/z' }])).toEqual({ a: [1, 2, 3], b: {}, z: 1 });
    expect(() => jsonPatch(doc, [{ op: 'test', path: '/a/0', value: 9 }])).toThrow();
    expect(() => jsonPatch(doc, [{ op: 'replace', path: '/missing/x', value: 1 }])).toThrow();
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: 0 })).toBe(false);
  });
});

describe('selectors', () => {
  const obj = (labels: Record<string, string>, extra = {}) => ({ metadata: { name: 'n', namespace: 'ns', labels }, ...extra });
  it('parses the label selector grammar', () => {
    expect(parseLabelSelector('a=b, c!=d,e in (f, g),h notin (i),j,!k,l==m')).toHaveLength(7);
    expect(labelMatcher('env in (a,b),!legacy')!(obj({ env: 'b' }))).toBe(true);
    expect(labelMatcher('env in (a,b),!legacy')!(obj({ env: 'b', legacy: '' }))).toBe(false);
    expect(labelMatcher('v>3')!(obj({ v: '5' }))).toBe(true);
    expect(labelMatcher('')).toBeUndefined();
    for (const bad of ['a in b', 'a in (b', '=x', 'a=b,,']) expect(() => labelMatcher(bad), bad).toThrow();
  });
  it('matches field selectors on nested paths, with absent fields as empty', () => {
    expect(fieldMatcher('spec.nodeName=')!(obj({}, { spec: {} }))).toBe(true);
    expect(fieldMatcher('spec.nodeName!=')!(obj({}, { spec: { nodeName: 'x' } }))).toBe(true);
    expect(fieldMatcher('metadata.name=n,metadata.namespace==ns')!(obj({}))).toBe(true);
    expect(fieldMatcher('metadata.name=other')!(obj({}))).toBe(false);
  });
});

describe('addresses', () => {
  it('parses sloppy IPv4, IPv6 and CIDRs with host bits', () => {
    expect(ipToBigInt(parseIP('010.001.0.1')!)).toBe((10n << 24n) | (1n << 16n) | 1n);
    expect(parseIP('256.0.0.1')).toBeUndefined();
    expect(parseIP('fe80::1%eth0')).toBeUndefined();
    const c = parseCIDR('10.1.2.3/8')!;
    expect(formatCIDR(c)).toBe('10.0.0.0/8');
    expect(cidrContainsIP(c, parseIP('10.255.0.1')!)).toBe(true);
    expect(cidrContainsIP(c, parseIP('::ffff:10.0.0.1')!)).toBe(false);
    const v6 = parseCIDR('2001:db8::1/32')!;
    expect(formatIP(v6)).toBe('2001:db8::');
    expect(formatIP(parseIP('::ffff:1.2.3.4')!, { dottedMapped: false })).toBe('::ffff:102:304');
    expect(parseCIDR('10.0.0.0/33')).toBeUndefined();
  });
});

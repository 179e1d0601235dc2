// Request bodies in application/vnd.kubernetes.protobuf. kubectl's typed commands (`create namespace`,
// `create service ...`) send them and offer no JSON fallback, so the server decodes the few messages those
// commands produce: the runtime.Unknown envelope, ObjectMeta, Namespace and Service. Responses stay JSON
// (every client also accepts it). Unknown fields are skipped; an unknown kind is 415.
import type { KubeObject } from './selectors.js';
import { KrtError } from '../observe/errors.js';

export class ProtoError extends KrtError {
  constructor(message: string) {
    super('KRT_APISERVER_PROTOBUF', message);
  }
}

type Kind = 'string' | 'int' | 'bool' | 'bytes' | Schema | 'map' | 'intOrString' | 'time';
interface Field {
  name: string;
  kind: Kind;
  repeated?: boolean;
}
type Schema = Record<number, Field>;

const f = (name: string, kind: Kind, repeated = false): Field => ({ name, kind, repeated });

const OWNER_REF: Schema = { 1: f('kind', 'string'), 3: f('name', 'string'), 4: f('uid', 'string'), 5: f('apiVersion', 'string'), 6: f('controller', 'bool'), 7: f('blockOwnerDeletion', 'bool') };
const OBJECT_META: Schema = {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int'),
  11: f('labels', 'map'),
  12: f('annotations', 'map'),
  13: f('ownerReferences', OWNER_REF, true),
  14: f('finalizers', 'string', true),
};
const SERVICE_PORT: Schema = {
  1: f('name', 'string'),
  2: f('protocol', 'string'),
  3: f('port', 'int'),
  4: f('targetPort', 'intOrString'),
  5: f('nodePort', 'int'),
  6: f('appProtocol', 'string'),
};
const SERVICE_SPEC: Schema = {
  1: f('ports', SERVICE_PORT, true),
  2: f('selector', 'map'),
  3: f('clusterIP', 'string'),
  4: f('type', 'string'),
  5: f('externalIPs', 'string', true),
  7: f('sessionAffinity', 'string'),
  8: f('loadBalancerIP', 'string'),
  9: f('loadBalancerSourceRanges', 'string', true),
  10: f('externalName', 'string'),
  11: f('externalTrafficPolicy', 'string'),
  12: f('healthCheckNodePort', 'int'),
  13: f('publishNotReadyAddresses', 'bool'),
  18: f('clusterIPs', 'string', true),
  19: f('ipFamilies', 'string', true),
  20: f('allocateLoadBalancerNodePorts', 'bool'),
  21: f('loadBalancerClass', 'string'),
  22: f('internalTrafficPolicy', 'string'),
  23: f('ipFamilyPolicy', 'string'),
};
const KINDS: Record<string, Schema> = {
  'v1/Namespace': { 1: f('metadata', OBJECT_META), 2: f('spec', { 1: f('finalizers', 'string', true) }), 3: f('status', { 1: f('phase', 'string') }) },
  'v1/Service': { 1: f('metadata', OBJECT_META), 2: f('spec', SERVICE_SPEC), 3: f('status', {}) },
};
const UNKNOWN: Schema = {
  1: f('typeMeta', { 1: f('apiVersion', 'string'), 2: f('kind', 'string') }),
  2: f('raw', 'bytes'),
  3: f('contentEncoding', 'string'),
  4: f('contentType', 'string'),
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtoError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new ProtoError('varint too long');
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new ProtoError('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new ProtoError(`unsupported wire type ${wire}`);
  }
}

function toInt(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function decode(buf: Buffer, schema: Schema): KubeObject {
  const r = new Reader(buf);
  const out: KubeObject = {};
  while (r.pos < buf.length) {
    const tag = Number(r.varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    const field = schema[no];
    if (!field) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    const k = field.kind;
    if (k === 'int' || k === 'bool') {
      if (wire !== 0) throw new ProtoError(`field ${field.name}: expected varint`);
      const v = r.varint();
      value = k === 'bool' ? v !== 0n : toInt(v);
    } else {
      if (wire !== 2) throw new ProtoError(`field ${field.name}: expected length-delimited`);
      const b = r.bytes();
      if (k === 'string') value = b.toString('utf8');
      else if (k === 'bytes') value = b;
      else if (k === 'map') {
        const e = decode(b, { 1: f('key', 'string'), 2: f('value', 'string') });
        out[field.name] = { ...(out[field.name] ?? {}), [e.key ?? '']: e.value ?? '' };
        continue;
      } else if (k === 'intOrString') {
        const e = decode(b, { 1: f('type', 'int'), 2: f('intVal', 'int'), 3: f('strVal', 'string') });
        value = e.type === 1 ? (e.strVal ?? '') : (e.intVal ?? 0);
      } else if (k === 'time') value = undefined;
      else value = decode(b, k as Schema);
    }
    if (field.repeated) (out[field.name] ??= []).push(value);
    // Go's non-pointer zero values ("" and 0) mean "unset"; JSON clients would have omitted them.
    else if (value !== '' && value !== 0) out[field.name] = value;
  }
  return out;
}

/** Decodes a "k8s\0"-prefixed protobuf body into the JSON shape of the object. */
export function decodeKubeProtobuf(buf: Buffer): KubeObject {
  if (buf.length < 4 || buf.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new ProtoError('missing k8s protobuf magic');
  const env = decode(buf.subarray(4), UNKNOWN);
  const apiVersion = env.typeMeta?.apiVersion ?? '';
  const kind = env.typeMeta?.kind ?? '';
  const schema = KINDS[`${apiVersion}/${kind}`];
  if (!schema) throw new ProtoError(`protobuf bodies of ${apiVersion}/${kind} are not supported; send JSON`);
  const obj = decode(env.raw ?? Buffer.alloc(0), schema);
  return { apiVersion, kind, ...obj };
}

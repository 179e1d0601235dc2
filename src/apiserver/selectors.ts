// labelSelector / fieldSelector query parameters, in the string syntax kubectl and client-go produce
// (k8s.io/apimachinery/pkg/labels and pkg/fields). Parsing errors become 400 BadRequest upstream.
// Only the string syntax is ours: requirements are evaluated by the model's selector code, so a list
// filtered here selects what a NetworkPolicy with the same requirements selects.
import type { LabelRequirement } from '../model/types.js';
import { requirementHolds } from '../model/normalize/selector.js';
import { KrtError } from '../observe/errors.js';

export type Matcher = (obj: KubeObject) => boolean;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

type LabelOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt';
interface LabelReq {
  key: string;
  op: LabelOp;
  values: string[];
}

export class SelectorError extends KrtError {
  constructor(message: string) {
    super('KRT_APISERVER_SELECTOR', message);
  }
}

const KEY_CHARS = /[A-Za-z0-9_.\-/]/;

/** Parses a label selector string; the empty string selects everything. */
export function parseLabelSelector(input: string): LabelReq[] {
  const s = input;
  let i = 0;
  const reqs: LabelReq[] = [];
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const ident = (): string => {
    ws();
    const start = i;
    while (i < s.length && KEY_CHARS.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const value = (): string => {
    ws();
    const start = i;
    while (i < s.length && !/[\s,()=!<>]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  ws();
  if (i >= s.length) return reqs;
  for (;;) {
    ws();
    let negate = false;
    if (s[i] === '!') {
      negate = true;
      i++;
    }
    const key = ident();
    if (!key) throw new SelectorError(`unable to parse requirement: found '${s[i] ?? ''}', expected: identifier`);
    ws();
    if (negate) {
      reqs.push({ key, op: '!exists', values: [] });
    } else if (i >= s.length || s[i] === ',') {
      reqs.push({ key, op: 'exists', values: [] });
    } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
      const op: LabelOp = s.startsWith('!=', i) ? '!=' : '=';
      i += s.startsWith('==', i) || s.startsWith('!=', i) ? 2 : 1;
      reqs.push({ key, op, values: [value()] });
    } else if (s[i] === '>' || s[i] === '<') {
      const op: LabelOp = s[i] === '>' ? 'gt' : 'lt';
      i++;
      const v = value();
      if (!/^-?\d+$/.test(v)) throw new SelectorError(`for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key, op, values: [v] });
    } else {
      const word = ident().toLowerCase();
      if (word !== 'in' && word !== 'notin') {
        throw new SelectorError(`unable to parse requirement: found '${word}', expected: in, notin, =, ==, !=, gt, lt`);
      }
      ws();
      if (s[i] !== '(') throw new SelectorError(`found '${s[i] ?? ''}', expected: '('`);
      i++;
      const values: string[] = [];
      for (;;) {
        ws();
        if (s[i] === ')') {
          i++;
          break;
        }
        values.push(value());
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === ')') {
          i++;
          break;
        } else throw new SelectorError(`found '${s[i] ?? 'end of string'}', expected: ',' or ')'`);
      }
      if (word === 'in' && values.length === 0) throw new SelectorError('for \'in\' operator, values set can\'t be empty');
      reqs.push({ key, op: word, values });
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') throw new SelectorError(`found '${s[i]}', expected: ',' or end of string`);
    i++;
  }
  return reqs;
}

/** The metav1 requirement a string-syntax one means ("a=b" is "a In (b)"); Gt/Lt have none. */
function asRequirement(r: LabelReq): LabelRequirement | undefined {
  switch (r.op) {
    case '=':
    case 'in':
      return { key: r.key, operator: 'In', values: r.values };
    case '!=':
    case 'notin':
      return { key: r.key, operator: 'NotIn', values: r.values };
    case 'exists':
      return { key: r.key, operator: 'Exists', values: [] };
    case '!exists':
      return { key: r.key, operator: 'DoesNotExist', values: [] };
    default:
      return undefined;
  }
}

/** Gt / Lt exist only in the string syntax: the label must be an integer beyond the bound. */
function compareHolds(r: LabelReq, labels: Record<string, string>): boolean {
  if (!Object.prototype.hasOwnProperty.call(labels, r.key)) return false;
  const v = labels[r.key]!;
  if (!/^-?\d+$/.test(v)) return false;
  const n = Number(v);
  const want = Number(r.values[0]);
  return r.op === 'gt' ? n > want : n < want;
}

export function labelMatcher(input: string): Matcher | undefined {
  const reqs = parseLabelSelector(input).map((r) => ({ r, req: asRequirement(r) }));
  if (reqs.length === 0) return undefined;
  return (obj) => {
    const labels: Record<string, string> = obj.metadata?.labels ?? {};
    return reqs.every(({ r, req }) => (req ? requirementHolds(req, labels) : compareHolds(r, labels)));
  };
}

interface FieldReq {
  path: string[];
  neg: boolean;
  value: string;
}

/** Splits on unescaped commas and handles the `\,` `\=` `\\` escapes fields.ParseSelector accepts. */
export function parseFieldSelector(input: string): FieldReq[] {
  const reqs: FieldReq[] = [];
  if (!input.trim()) return reqs;
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === '\\' && i + 1 < input.length) {
      cur += c + input[++i];
    } else if (c === ',') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  for (const p of parts) {
    const m = /^\s*([A-Za-z0-9_.\-]+)\s*(==|!=|=)(.*)$/.exec(p);
    if (!m) throw new SelectorError(`invalid selector: '${p}'; can't understand '${p}'`);
    const value = m[3]!.trim().replace(/\\(.)/g, '$1');
    reqs.push({ path: m[1]!.split('.'), neg: m[2] === '!=', value });
  }
  return reqs;
}

/**
 * Any dotted scalar path is accepted (the real server allows only a per-kind list); a missing field
 * compares as "", which is what the real server does for e.g. spec.nodeName of an unscheduled pod.
 */
export function fieldMatcher(input: string): Matcher | undefined {
  const reqs = parseFieldSelector(input);
  if (reqs.length === 0) return undefined;
  return (obj) => {
    for (const r of reqs) {
      let v: unknown = obj;
      for (const k of r.path) v = v && typeof v === 'object' ? (v as KubeObject)[k] : undefined;
      const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      if ((s === r.value) === r.neg) return false;
    }
    return true;
  };
}

export function andMatchers(...ms: (Matcher | undefined)[]): Matcher | undefined {
  const list = ms.filter((m): m is Matcher => m !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return (o) => list.every((m) => m(o));
}

// Label selector semantics of the API: every matchLabels pair and every requirement must hold.
import type { LabelSelector, Labels } from '../../../model/types.js';

export function selectorMatches(sel: LabelSelector, labels: Labels): boolean {
  for (const k in sel.matchLabels) {
    if (labels[k] !== sel.matchLabels[k]) return false;
  }
  for (const req of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const v = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !req.values.includes(v as string)) return false;
        break;
      case 'NotIn':
        // As in the API: a missing key satisfies NotIn.
        if (has && req.values.includes(v as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

import { describe, expect, it } from 'vitest';
import { diffPolicyRules } from './policy-routing.js';

describe('diffPolicyRules', () => {
  it('adds one rule per pod CIDR', () => {
    expect(diffPolicyRules(['10.244.1.0/24'], [])).toEqual(['rule add from 10.244.1.0/24 lookup 77']);
  });
  it('keeps a matching rule, removes duplicates and rules for CIDRs no longer ours', () => {
    const have = [{ src: '10.244.1.0/24' }, { src: '10.244.1.0/24' }, { src: '10.244.9.0/24' }];
    expect(diffPolicyRules(['10.244.1.0/24'], have)).toEqual(['rule del from 10.244.1.0/24 lookup 77', 'rule del from 10.244.9.0/24 lookup 77']);
  });
  it('removes every rule when the overlay is off', () => {
    expect(diffPolicyRules([], [{ src: '10.244.1.0/24' }])).toEqual(['rule del from 10.244.1.0/24 lookup 77']);
  });
});

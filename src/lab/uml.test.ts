import { describe, expect, it } from 'vitest';
import { hostPathsToRemount } from './uml.js';

describe('hostPathsToRemount', () => {
  it('mounts back what the tmpfs over /tmp and /run hides, once, outermost first', () => {
    expect(hostPathsToRemount(['/tmp/fresh', '/tmp/fresh/dist/lab', '/usr/bin', '/run/x', '/tmp', '/tmpfoo/a'])).toEqual(['/run/x', '/tmp/fresh']);
  });
  it('leaves a checkout outside /tmp and /run alone', () => {
    expect(hostPathsToRemount(['/work/main', '/work/main/src/lab'])).toEqual([]);
  });
});

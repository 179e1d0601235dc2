import { describe, expect, it } from 'vitest';
import { controllerLogger, createLogger, levelFor } from './logger.js';
import { MemoryLog } from '../testing/observe.js';

describe('logger', () => {
  it('maps -v to levels as klog does', () => {
    expect([0, 1, 2, 5].map(levelFor)).toEqual(['info', 'debug', 'trace', 'trace']);
  });

  it('writes JSON lines with level names and the controller of a child logger', () => {
    const sink = new MemoryLog();
    const root = createLogger({ verbosity: 1, destination: sink, base: { node: 'n1' } });
    const fw = controllerLogger(root, 'firewall');
    fw.debug({ ms: 12 }, 'synced');
    fw.trace('rule detail'); // below -v 1
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatchObject({ level: 'debug', node: 'n1', controller: 'firewall', ms: 12, msg: 'synced' });
    expect(typeof sink.lines[0]!.time).toBe('string');
  });
});

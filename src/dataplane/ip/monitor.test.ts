import { describe, expect, it } from 'vitest';
import { touchesRoutes } from './monitor.js';

// Lines as `ip -o monitor link route address` printed them (iproute2 6.x) for a veth pair, an address and a route.
describe('touchesRoutes', () => {
  it('an address removal counts: the kernel drops routes through its subnet without a route event', () => {
    expect(touchesRoutes('Deleted 3: rrv0    inet 198.18.7.1/24 scope global rrv0\\       valid_lft forever preferred_lft forever')).toBe(true);
    expect(touchesRoutes('Deleted 3: rrv0    inet6 fe80::80b:c7ff:fe2b:274f/64 scope link \\       valid_lft forever preferred_lft forever')).toBe(true);
  });
  it('our routes deleted and link state changes count', () => {
    expect(touchesRoutes('Deleted 198.18.8.0/24 via 198.18.7.2 dev rrv0 proto 17 ')).toBe(true);
    expect(touchesRoutes('3: rrv0@rrv1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether 0a:0b:c7:2b:27:4f brd ff:ff:ff:ff:ff:ff')).toBe(true);
  });
  it('routes added (ours, as our own writes do) and other protocols\' deletions do not', () => {
    expect(touchesRoutes('198.18.8.0/24 via 198.18.7.2 dev rrv0 proto 17 ')).toBe(false);
    expect(touchesRoutes('Deleted broadcast 198.18.7.255 dev rrv0 table local proto kernel scope link src 198.18.7.1 ')).toBe(false);
    expect(touchesRoutes('3: rrv0    inet 198.18.7.1/24 scope global rrv0\\       valid_lft forever preferred_lft forever')).toBe(false);
  });
});

// Loads (and if needed builds) the small N-API addon in bgp_sockopt.c. The setup command builds it ahead of
// time (build.ts); building on first use is a fallback for test runs. Without it, TCP MD5 is unavailable
// and a peer with a password is a startup error, never an unsigned session.
import { nativeAddon } from '../../native/addon-loader.js';

export interface SockoptAddon {
  socket(family: 4 | 6): number;
  setMd5(fd: number, peer: string, key: string): void;
  setTtl(fd: number, ttl: number): void;
  close(fd: number): void;
}

export const sockoptAddon = nativeAddon<SockoptAddon>({ name: 'bgp_sockopt', dir: 'bgp/native', env: 'KRT_BGP_ADDON', label: 'TCP MD5/TTL addon' });

/** The addon, or the Error explaining why it cannot be had. */
export const loadAddon = (): SockoptAddon | Error => sockoptAddon.load();

// Loads (and if needed builds) the IPVS generic-netlink socket addon (ipvs_genl.c), as src/bgp/native does
// for its addon: scripts/setup.sh builds it ahead of time (build.ts); building on first use is the fallback.
// Without it the proxy writes IPVS with `ipvsadm -R` (apply/ipvs-writer.ts says so once).
import { nativeAddon } from '../../../native/addon-loader.js';

export interface GenlSocketAddon {
  open(): void;
  /** Sends the requests (consecutive sequence numbers) and returns every reply until each has ended. */
  exchange(requests: Buffer): Buffer;
  close(): void;
}

export const genlAddon = nativeAddon<GenlSocketAddon>({ name: 'ipvs_genl', dir: 'dataplane/ipvs/native', env: 'KRT_IPVS_ADDON', label: 'IPVS netlink addon' });

/** The addon, or the Error explaining why it cannot be had. */
export const loadGenlAddon = (): GenlSocketAddon | Error => genlAddon.load();

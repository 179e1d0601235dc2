// Builds the netfilter addon (libnftables, libipset) (run by scripts/setup.sh): npx tsx src/controllers/firewall/apply/native/build.ts
import { buildNfAddon } from './addon.js';

try {
  console.log(`built ${buildNfAddon()}`);
} catch (e) {
  console.error(`netfilter addon build failed: ${(e as Error).message}`);
  process.exitCode = 1;
}

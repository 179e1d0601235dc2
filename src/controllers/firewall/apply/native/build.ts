// Builds the libnftables addon (run by scripts/setup.sh): npx tsx src/controllers/firewall/apply/native/build.ts
import { buildNftAddon } from './addon.js';

try {
  console.log(`built ${buildNftAddon()}`);
} catch (e) {
  console.error(`nft addon build failed: ${(e as Error).message}`);
  process.exitCode = 1;
}

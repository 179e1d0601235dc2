// Builds the IPVS generic-netlink addon (run by scripts/setup.sh): npx tsx src/dataplane/ipvs/native/build.ts
import { buildGenlAddon } from './addon.js';

try {
  console.log(`built ${buildGenlAddon()}`);
} catch (e) {
  console.error(`ipvs addon build failed: ${(e as Error).message}`);
  process.exitCode = 1;
}

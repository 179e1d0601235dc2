// Builds the socket-option addon (run by scripts/setup.sh): npx tsx src/bgp/native/build.ts
import { buildAddon } from './addon.js';

try {
  console.log(`built ${buildAddon()}`);
} catch (e) {
  console.error(`bgp addon build failed: ${(e as Error).message}`);
  process.exitCode = 1;
}

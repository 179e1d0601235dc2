// Builds the posix_spawn process runner (run by scripts/setup.sh): npx tsx src/dataplane/native/build.ts
import { buildFromCli } from '../../native/addon-loader.js';
import { spawnAddon } from './addon.js';

buildFromCli(spawnAddon, 'spawn addon');

// Builds the socket-option addon (run by scripts/setup.sh): npx tsx src/bgp/native/build.ts
import { buildFromCli } from '../../native/addon-loader.js';
import { sockoptAddon } from './addon.js';

buildFromCli(sockoptAddon, 'bgp addon');

// Builds the IPVS generic-netlink addon (run by scripts/setup.sh): npx tsx src/dataplane/ipvs/native/build.ts
import { buildFromCli } from '../../../native/addon-loader.js';
import { genlAddon } from './addon.js';

buildFromCli(genlAddon, 'ipvs addon');

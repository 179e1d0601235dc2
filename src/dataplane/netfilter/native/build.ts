// Builds the netfilter addon (libnftables, libipset) (run by scripts/setup.sh): npx tsx src/dataplane/netfilter/native/build.ts
import { buildFromCli } from '../../../native/addon-loader.js';
import { nfAddon } from './addon.js';

buildFromCli(nfAddon, 'netfilter addon');

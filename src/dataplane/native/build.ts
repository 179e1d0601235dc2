// Builds the posix_spawn process runner and the rtnetlink read addon (run by scripts/setup.sh):
// npx tsx src/dataplane/native/build.ts
import { buildFromCli } from '../../native/addon-loader.js';
import { rtnlAddon } from '../ip/rtnl-read.js';
import { spawnAddon } from './addon.js';

buildFromCli(spawnAddon, 'spawn addon');
buildFromCli(rtnlAddon, 'rtnetlink read addon');

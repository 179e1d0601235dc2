import { defineInteropSuite } from '../../testing/bgp/interop/suite.js';
import { birdAdapter } from '../../testing/bgp/interop/daemons/bird.js';

defineInteropSuite(birdAdapter, 'brd');

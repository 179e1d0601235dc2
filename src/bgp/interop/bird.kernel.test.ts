import { defineInteropSuite } from './suite.js';
import { birdAdapter } from './daemons/bird.js';

defineInteropSuite(birdAdapter, 'brd');

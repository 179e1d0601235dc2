import { defineInteropSuite } from './suite.js';
import { exabgpAdapter } from './daemons/exabgp.js';

defineInteropSuite(exabgpAdapter, 'exa');

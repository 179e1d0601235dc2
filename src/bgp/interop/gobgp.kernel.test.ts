import { defineInteropSuite } from './suite.js';
import { gobgpAdapter } from './daemons/gobgp.js';

defineInteropSuite(gobgpAdapter, 'gob');

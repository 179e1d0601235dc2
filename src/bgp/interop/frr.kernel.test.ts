import { defineInteropSuite } from './suite.js';
import { frrAdapter } from './daemons/frr.js';

defineInteropSuite(frrAdapter, 'frr');

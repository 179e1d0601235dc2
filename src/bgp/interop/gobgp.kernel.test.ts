import { defineInteropSuite } from '../../testing/bgp/interop/suite.js';
import { gobgpAdapter } from '../../testing/bgp/interop/daemons/gobgp.js';

defineInteropSuite(gobgpAdapter, 'gob');

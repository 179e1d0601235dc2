import { defineInteropSuite } from '../../testing/bgp/interop/suite.js';
import { exabgpAdapter } from '../../testing/bgp/interop/daemons/exabgp.js';

defineInteropSuite(exabgpAdapter, 'exa');

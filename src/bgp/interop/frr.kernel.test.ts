import { defineInteropSuite } from '../../testing/bgp/interop/suite.js';
import { frrAdapter } from '../../testing/bgp/interop/daemons/frr.js';

defineInteropSuite(frrAdapter, 'frr');

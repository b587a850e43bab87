import { join } from 'node:path';
import { createLoyalty } from './loyalty.js';

/** `orderflow start --consumer dist/examples/loyalty/plugin.js` adds the loyalty consumer. */
export default createLoyalty(join(process.env['ORDERFLOW_DATA_DIR'] ?? './data', 'loyalty.db'))
  .consumer;

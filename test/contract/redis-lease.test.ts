import { describe } from 'vitest';
import { REDIS_FIXTURES } from '../helpers/backends-redis.js';
import { enginesUp } from '../helpers/engines.js';
import { describeLeaseContract } from './lease.contract.js';

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describeLeaseContract('redis', REDIS_FIXTURES.lease);
});

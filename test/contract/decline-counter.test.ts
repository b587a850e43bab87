import { describe } from 'vitest';
import { BACKENDS } from '../helpers/backends.js';
import { REDIS_FIXTURES } from '../helpers/backends-redis.js';
import { enginesUp } from '../helpers/engines.js';
import { describeDeclineCounterContract } from './decline-counter.contract.js';

for (const backend of BACKENDS)
  describeDeclineCounterContract(backend.name, backend.declineCounter);

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describeDeclineCounterContract('redis', REDIS_FIXTURES.declineCounter);
});

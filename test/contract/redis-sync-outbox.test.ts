import { describe } from 'vitest';
import { REDIS_FIXTURES } from '../helpers/backends-redis.js';
import { enginesUp } from '../helpers/engines.js';
import { describeSyncOutboxContract } from './sync-outbox.contract.js';

const up = await enginesUp('redis');
describe.skipIf(!up)('redis', () => {
  describeSyncOutboxContract('redis', REDIS_FIXTURES.syncOutbox);
});

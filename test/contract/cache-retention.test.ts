import { BACKENDS } from '../helpers/backends.js';
import { describeCacheRetentionContract } from './cache-retention.contract.js';

for (const backend of BACKENDS) {
  if (backend.cacheWith) describeCacheRetentionContract(backend.name, backend.cacheWith);
}

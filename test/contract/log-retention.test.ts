import { BACKENDS } from '../helpers/backends.js';
import { describeLogRetentionContract } from './log-retention.contract.js';

for (const backend of BACKENDS) {
  if (backend.eventLogWith) describeLogRetentionContract(backend.name, backend.eventLogWith);
}

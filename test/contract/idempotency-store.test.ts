import { BACKENDS } from '../helpers/backends.js';
import { describeIdempotencyStoreContract } from './idempotency-store.contract.js';

for (const backend of BACKENDS)
  describeIdempotencyStoreContract(backend.name, backend.idempotencyStore);

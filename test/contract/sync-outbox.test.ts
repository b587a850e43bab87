import { BACKENDS } from '../helpers/backends.js';
import { describeSyncOutboxContract } from './sync-outbox.contract.js';

for (const backend of BACKENDS) describeSyncOutboxContract(backend.name, backend.syncOutbox);

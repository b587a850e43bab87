import { BACKENDS } from '../helpers/backends.js';
import { describeLeaseContract } from './lease.contract.js';

for (const backend of BACKENDS) describeLeaseContract(backend.name, backend.lease);

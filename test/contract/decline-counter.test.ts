import { BACKENDS } from '../helpers/backends.js';
import { describeDeclineCounterContract } from './decline-counter.contract.js';

for (const backend of BACKENDS)
  describeDeclineCounterContract(backend.name, backend.declineCounter);

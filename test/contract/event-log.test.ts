import { BACKENDS } from '../helpers/backends.js';
import { describeEventLogContract } from './event-log.contract.js';

for (const backend of BACKENDS) describeEventLogContract(backend.name, backend.eventLog);

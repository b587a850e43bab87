import { BACKENDS } from '../helpers/backends.js';
import { describeProcessReportsContract } from './process-reports.contract.js';

for (const backend of BACKENDS)
  describeProcessReportsContract(backend.name, backend.processReports);

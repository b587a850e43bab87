import { BACKENDS } from '../helpers/backends.js';
import { describeSourceOfTruthContract } from './source-of-truth.contract.js';

for (const backend of BACKENDS) describeSourceOfTruthContract(backend.name, backend.sourceOfTruth);

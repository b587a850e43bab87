import { describe } from 'vitest';
import { postgresSourceOfTruth } from '../helpers/backends-postgres.js';
import { enginesUp } from '../helpers/engines.js';
import { describeSourceOfTruthContract } from './source-of-truth.contract.js';

const up = await enginesUp('postgres');

describe.skipIf(!up)('postgres', () => {
  describeSourceOfTruthContract('postgres', postgresSourceOfTruth);
});

import { BACKENDS } from '../helpers/backends.js';
import { describeOrderStoreContract } from './order-store.contract.js';

for (const backend of BACKENDS) describeOrderStoreContract(backend.name, backend.orderStore);

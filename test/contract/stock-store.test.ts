import { BACKENDS } from '../helpers/backends.js';
import { describeStockStoreContract } from './stock-store.contract.js';

for (const backend of BACKENDS) describeStockStoreContract(backend.name, backend.stockStore);

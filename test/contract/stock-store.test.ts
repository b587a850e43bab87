import { BACKENDS } from '../helpers/backends.js';
import { describeStockFencingContract } from './stock-fencing.contract.js';
import { describeStockStoreContract } from './stock-store.contract.js';

for (const backend of BACKENDS) {
  describeStockStoreContract(backend.name, backend.stockStore);
  describeStockFencingContract(backend.name, backend.stockStore);
}

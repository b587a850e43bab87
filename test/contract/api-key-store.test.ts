import { BACKENDS } from '../helpers/backends.js';
import { describeApiKeyStoreContract } from './api-key-store.contract.js';

for (const backend of BACKENDS) describeApiKeyStoreContract(backend.name, backend.apiKeyStore);

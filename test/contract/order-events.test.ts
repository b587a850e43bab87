import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import { BACKENDS } from '../helpers/backends.js';
import { describeOrderEventsContract } from './order-events.contract.js';

for (const backend of BACKENDS)
  describeOrderEventsContract(backend.name, backend.orderStoreWithLog);

// The embedded backend's pairing: store and log on one file, events in the store's transaction.
describeOrderEventsContract('sqlite (one transaction)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-contract-'));
  const opened: { close(): Promise<void> }[] = [];
  return {
    open(clock) {
      const backend = openSqliteBackend(dir, clock);
      opened.push(backend);
      return { orders: backend.orders, log: backend.log, close: () => backend.close() };
    },
    async dispose() {
      await Promise.all(opened.map((backend) => backend.close()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

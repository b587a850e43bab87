import { defineConfig } from 'vitest/config';

/** Tests that stop PostgreSQL or NATS under load: one file at a time, nothing else running. */
export default defineConfig({
  test: {
    include: ['test/outage/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});

import { describe, expect, it } from 'vitest';
import { createPostgresPool } from '../../src/adapters/postgres/postgres-pool.js';
import { RetryableError } from '../../src/domain/errors.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';

const postgresUp = await enginesUp('postgres');

/**
 * Each adapter turns its driver's transient failures into RetryableError, so nothing above
 * the adapters (the HTTP layer's 503, the consumers' retries) knows a driver's error codes.
 * (SQLite's: `sqlite-database.test.ts`, a write past another process's lock.)
 */
describe('driver failures become RetryableError in their adapter', () => {
  describe('PostgreSQL', () => {
    it('a server nobody answers for', async () => {
      const pool = createPostgresPool({ url: 'postgres://postgres@127.0.0.1:1/test' });
      const failure = await pool.query('SELECT 1').catch((error: unknown) => error);
      await pool.end();
      expect(failure).toBeInstanceOf(RetryableError);
      expect((failure as RetryableError).code).toBe('postgres_unavailable');
    });

    it.skipIf(!postgresUp)(
      'a connection the server terminates (57P01), while a bad statement stays what it is',
      async () => {
        const pool = createPostgresPool({ url: ENGINES.postgres });
        const bad = await pool.query('SELEKT 1').catch((error: unknown) => error);
        expect(bad).not.toBeInstanceOf(RetryableError);
        expect((bad as { code?: string }).code).toBe('42601');
        const terminated = await pool
          .query('SELECT pg_terminate_backend(pg_backend_pid())')
          .catch((error: unknown) => error);
        await pool.end();
        expect(terminated).toBeInstanceOf(RetryableError);
        expect((terminated as RetryableError).code).toBe('postgres_unavailable');
      },
    );
  });
});

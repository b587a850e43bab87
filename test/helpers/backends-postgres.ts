import {
  migrate,
  SOURCE_OF_TRUTH_MIGRATIONS,
} from '../../src/adapters/postgres/postgres-migrations.js';
import { createPostgresPool } from '../../src/adapters/postgres/postgres-pool.js';
import { PostgresSourceOfTruth } from '../../src/adapters/postgres/postgres-source-of-truth.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import type { SqlFixture, SqlFixtureFactory } from '../contract/fixture.js';
import { ENGINES, randomNamespace } from './engines.js';

/** The suites' SQL is written with SQLite's `?` placeholders: number them for PostgreSQL. */
export function positional(sql: string): string {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}

/** A PostgreSQL source of truth in a schema of its own, migrated, dropped on dispose. */
export interface PostgresSotFixture extends SqlFixture<PostgresSourceOfTruth> {
  readonly url: string;
  readonly schema: string;
}

export async function postgresSotFixture(url = ENGINES.postgres): Promise<PostgresSotFixture> {
  const schema = randomNamespace('sot');
  const pool = createPostgresPool({ url, schema });
  const opened: PostgresSourceOfTruth[] = [];
  try {
    await migrate(pool, SOURCE_OF_TRUTH_MIGRATIONS, schema);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    url,
    schema,
    open(clock) {
      const sot = new PostgresSourceOfTruth({ url, clock, schema });
      opened.push(sot);
      return sot;
    },
    async rows(sql, ...params) {
      return (await pool.query<Record<string, unknown>>(positional(sql), params)).rows;
    },
    async dispose() {
      await Promise.all(opened.map((sot) => sot.close()));
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  };
}

export const postgresSourceOfTruth: SqlFixtureFactory<SourceOfTruth> = postgresSotFixture;

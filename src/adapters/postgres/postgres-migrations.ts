import type pg from 'pg';
import { assertSchemaName, inTransaction } from './postgres-pool.js';

/** One schema step; `id` is recorded in `schema_migrations` so it runs once per schema. */
export interface PostgresMigration {
  readonly id: string;
  readonly sql: string;
}

/** The source-of-truth tables, as DESIGN.md gives them and the SQLite adapter has them. */
export const SOURCE_OF_TRUTH_MIGRATIONS: readonly PostgresMigration[] = [
  {
    id: 'source-of-truth/1-schema',
    sql: `
      CREATE TABLE products (
        sku text PRIMARY KEY,
        name text NOT NULL,
        price_cents bigint NOT NULL,
        currency text NOT NULL,
        on_hand bigint NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE orders (
        order_id text PRIMARY KEY,
        customer_id text NOT NULL,
        email text NOT NULL,
        status text NOT NULL,
        total_cents bigint NOT NULL,
        currency text NOT NULL,
        payment_ref text,
        created_at timestamptz NOT NULL,
        finalized_at timestamptz
      );
      CREATE TABLE order_items (
        order_id text NOT NULL,
        sku text NOT NULL,
        qty integer NOT NULL,
        unit_price_cents bigint NOT NULL,
        PRIMARY KEY (order_id, sku)
      );
      CREATE TABLE shipments (
        order_id text PRIMARY KEY,
        items jsonb NOT NULL,
        requested_at timestamptz NOT NULL
      );
      CREATE TABLE sales_by_minute (
        minute timestamptz NOT NULL,
        status text NOT NULL,
        orders bigint NOT NULL,
        revenue_cents bigint NOT NULL,
        PRIMARY KEY (minute, status)
      );
      CREATE TABLE sales_applied (
        order_id text NOT NULL,
        status text NOT NULL,
        PRIMARY KEY (order_id, status)
      );
    `,
  },
];

/** Any constant, the same in every orderflow process: it serializes their migrations. */
const MIGRATION_LOCK = 7_310_862_114;

/**
 * Applies the migrations not yet recorded, all in one transaction under a transaction-level
 * advisory lock: processes starting together wait for each other, and the later ones find
 * everything applied. `schema` (already the connections' `search_path`) is created if missing.
 * Returns the ids applied by this call.
 */
export function migrate(
  pool: pg.Pool,
  migrations: readonly PostgresMigration[],
  schema?: string,
): Promise<string[]> {
  if (schema !== undefined) assertSchemaName(schema);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL)',
    );
    const { rows } = await client.query<{ id: string }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, now())', [
        migration.id,
      ]);
      applied.push(migration.id);
    }
    return applied;
  });
}

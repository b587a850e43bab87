import pg from 'pg';
import { RetryableError, TerminalError } from '../../domain/errors.js';
import { SOT_DATABASE_MISSING } from '../../ports/source-of-truth.js';

export interface PostgresPoolOptions {
  readonly url: string;
  /** Every unqualified table lives in this schema (the connection's `search_path`). */
  readonly schema?: string;
  /** Errors of idle connections (a server restart); the pool replaces them by itself. */
  readonly onError?: (error: Error) => void;
}

/** A query with its own client-side time limit (pg honours it; its typings omit it). */
export type TimedQuery = pg.QueryConfig & { readonly query_timeout: number };

const INT8_OID = 20;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `bigint` columns and `COUNT(*)` come back as numbers: amounts and counts fit in 2^53. */
const TYPES = new pg.TypeOverrides();
TYPES.setTypeParser(INT8_OID, Number);

/**
 * A pool that fails fast while PostgreSQL is down (connect in 2 s, statements in 5 s on the
 * server and 10 s on the client) and heals by itself when it returns.
 */
export function createPostgresPool({ url, schema, onError }: PostgresPoolOptions): pg.Pool {
  if (schema !== undefined) assertSchemaName(schema);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 2_000,
    statement_timeout: 5_000,
    query_timeout: 10_000,
    keepAlive: true,
    types: TYPES,
    application_name: schema === undefined ? 'orderflow' : `orderflow/${schema}`,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // Without a listener an idle connection that the server drops would crash the process.
  pool.on('error', (error) => onError?.(error));
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  // Every query of the adapters goes through here: a server that is down, restarting or
  // out of connections becomes a RetryableError; constraint and syntax errors stay as they are.
  pool.query = ((...args: unknown[]) =>
    query(...args).catch((error: unknown) => {
      throw postgresError(error);
    })) as typeof pool.query;
  return pool;
}

/** Network errors of the connection itself (pg passes them through from the socket). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** pg's own messages for a connection it lost or could not get in time. */
const LOST_CONNECTION =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error/;

/**
 * A PostgreSQL failure that a later try may not have: connection exceptions (class 08),
 * insufficient resources (53), operator intervention (57P01–57P04: shutdown, crash,
 * cannot connect now), a lost or refused connection; and a database that does not exist
 * (3D000), under its own code (`SOT_DATABASE_MISSING`): creating it mends it. A write the
 * connection's user is not granted (42501, a least-privilege role doing another role's work)
 * is `forbidden`: no retry mends it, only the right user. Anything else is returned as it is.
 */
export function postgresError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof RetryableError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === '3D000') {
    return new RetryableError(SOT_DATABASE_MISSING, `PostgreSQL: ${error.message}`, 1_000, {
      cause: error,
    });
  }
  if (code === '42501') {
    return new TerminalError(
      'forbidden',
      `PostgreSQL refused this process's database user: ${error.message}`,
      { cause: error },
    );
  }
  const transient =
    (typeof code === 'string' &&
      (NETWORK_CODES.has(code) || /^(08|53)[0-9A-Z]{3}$/.test(code) || /^57P0[1-4]$/.test(code))) ||
    LOST_CONNECTION.test(error.message);
  if (!transient) return error;
  return new RetryableError('postgres_unavailable', `PostgreSQL: ${error.message}`, 1_000, {
    cause: error,
  });
}

/** Schema names are plain lowercase identifiers: no quoting needed in SQL or in `options`. */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use [a-z0-9_]`);
  }
}

/**
 * Runs `work` in one transaction on one connection. On failure the connection is dropped
 * rather than reused: the server rolls the transaction back, whatever state it was left in.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect().catch((error: unknown) => {
    throw postgresError(error);
  });
  // A connection lost mid-transaction rejects the pending query; this keeps it from also
  // surfacing as an unhandled 'error' event.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.removeListener('error', ignore);
    client.release();
    return result;
  } catch (error) {
    client.removeListener('error', ignore);
    client.release(true);
    throw postgresError(error);
  }
}

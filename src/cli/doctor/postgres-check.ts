import { displayUrl } from '../../adapters/shared/display-url.js';
import { type Check, engineCheck, loadDriver, messageOf, networkWords } from './check.js';

/** A shell word as `createdb` needs it. */
const shellWord = (word: string): string =>
  /^[A-Za-z0-9_.:/@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;

/** Where the URL points and as whom: the connection options `createdb` and `psql` share. */
function target(url: string): { database: string; options: string[] } {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username) || undefined;
  return {
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')),
    options: [
      ...(parsed.hostname ? ['-h', parsed.hostname.replace(/^\[|\]$/g, '')] : []),
      '-p',
      parsed.port || '5432',
      ...(user ? ['-U', user] : []),
    ],
  };
}

/** The command that creates the URL's database on its server, as its user. */
export function createdbCommand(url: string): string {
  const { database, options } = target(url);
  return ['createdb', ...options, database].map(shellWord).join(' ');
}

/** The same with `psql`, from the server's `postgres` database, for where `createdb` is missing. */
export function psqlCreateCommand(url: string): string {
  const { database, options } = target(url);
  const sql = `CREATE DATABASE "${database.replace(/"/g, '""')}"`;
  return ['psql', ...options, '-d', 'postgres', '-c', sql].map(shellWord).join(' ');
}

function postgresWords(error: unknown, url: string, where: string): string {
  const network = networkWords(error);
  if (network !== undefined) return `${where}: ${network}: is PostgreSQL running there?`;
  const code = (error as { code?: unknown }).code;
  const message = messageOf(error);
  switch (code) {
    case '3D000':
      return `${where}: ${message}: create it with \`${createdbCommand(url)}\` (or \`${psqlCreateCommand(url)}\`)`;
    case '28P01':
      return `${where} refused the password in ORDERFLOW_DATABASE_URL (${message})`;
    case '28000':
      return `${where} does not let this user in (${message}): see its pg_hba.conf`;
    case '57P03':
      return `${where} is starting up or shutting down: try again in a moment`;
    case '53300':
      return `${where} has no connection slots left (max_connections)`;
  }
  if (/timeout/i.test(message)) return `${where}: no answer in time (${message})`;
  return `${where}: ${message}`;
}

/** PostgreSQL (the source of truth) lets us in and answers `SELECT 1`. */
export function postgresCheck(url: string): Check {
  const words = (error: unknown, where: string) => postgresWords(error, url, where);
  return engineCheck('postgresql', url, 5432, words, async (timeoutMs) => {
    const { default: pg } = await loadDriver('pg', () => import('pg'));
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      application_name: 'orderflow-doctor',
    });
    // A connection the server drops later would otherwise be an unhandled 'error'.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
      return `${displayUrl(url)} answers SELECT 1 (PostgreSQL ${rows[0]?.server_version ?? '?'})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

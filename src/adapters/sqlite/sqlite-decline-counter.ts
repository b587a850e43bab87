import type { Clock } from '../../ports/clock.js';
import type { DeclineCounter } from '../../ports/decline-counter.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'decline-counter/1-declines',
    sql: `
      CREATE TABLE declines (key TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX declines_key_at ON declines (key, at);
    `,
  },
];

const INSERT = 'INSERT INTO declines (key, at) VALUES (?, ?)';
const FORGET = 'DELETE FROM declines WHERE key = ? AND at <= ?';
const COUNT = 'SELECT COUNT(*) AS n FROM declines WHERE key = ? AND at > ?';

/** Decline times in the hot file, one row per key and decline; older ones go as keys are counted. */
export class SqliteDeclineCounter implements DeclineCounter {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  add(keys: readonly string[]): Promise<void> {
    const now = this.clock.now();
    return this.database.write((db) => {
      for (const key of keys) {
        db.statement<[string, number], never>(FORGET).run(key, now - this.windowMs);
        db.statement<[string, number], never>(INSERT).run(key, now);
      }
    });
  }

  counts(keys: readonly string[]): Promise<readonly number[]> {
    const since = this.clock.now() - this.windowMs;
    const count = this.database.statement<[string, number], { n: number }>(COUNT);
    return Promise.resolve(keys.map((key) => count.get(key, since)?.n ?? 0));
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

import type { Clock } from '../../ports/clock.js';
import type { Lease } from '../../ports/lease.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'lease/1-leases',
    sql: `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  },
  {
    id: 'lease/2-fencing-tokens',
    sql: `ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 1`,
  },
];

/**
 * Takes a free or lapsed lease, or renews one's own: one conditional upsert. A take bumps
 * the fencing token, a renewal keeps it; the row outlives a release, and with it the token.
 */
const ACQUIRE = `INSERT INTO leases (name, holder, expires_at, token) VALUES (@name, @holder, @expiresAt, 1)
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
    token = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > @now
                 THEN leases.token ELSE leases.token + 1 END
  WHERE leases.holder = excluded.holder OR leases.expires_at <= @now
  RETURNING token`;
const RELEASE = 'UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?';

/** Leases in the hot SQLite file: processes sharing the file take turns through it. */
export class SqliteLease implements Lease {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  acquire(name: string, holder: string, ttlMs: number): Promise<number | undefined> {
    const now = this.clock.now();
    return this.database.write(
      (db) =>
        db
          .statement<
            [{ name: string; holder: string; expiresAt: number; now: number }],
            { token: number }
          >(ACQUIRE)
          .get({ name, holder, expiresAt: now + ttlMs, now })?.token,
    );
  }

  release(name: string, holder: string): Promise<void> {
    return this.database.write((db) => {
      db.statement<[string, string], never>(RELEASE).run(name, holder);
    });
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

import type { Clock } from '../../ports/clock.js';
import type { BreakerState, ProcessReport, ProcessReports } from '../../ports/process-reports.js';
import { openOrShare, type SqliteDatabase, type SqliteMigration } from './sqlite-database.js';

const MIGRATIONS: readonly SqliteMigration[] = [
  {
    id: 'process-reports/1-process-reports',
    sql: `CREATE TABLE process_reports (
      process TEXT PRIMARY KEY,
      breaker TEXT NOT NULL,
      at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    )`,
  },
];

const PUT = `INSERT INTO process_reports (process, breaker, at, expires_at)
  VALUES (@process, @breaker, @at, @expiresAt)
  ON CONFLICT (process) DO UPDATE SET breaker = excluded.breaker, at = excluded.at,
    expires_at = excluded.expires_at`;
/** Every put also clears the reports of processes gone long enough: the table stays small. */
const PURGE = 'DELETE FROM process_reports WHERE expires_at <= ?';
const LIVE =
  'SELECT process, breaker, at FROM process_reports WHERE expires_at > ? ORDER BY process';
const REMOVE = 'DELETE FROM process_reports WHERE process = ?';

/** Process reports in the hot SQLite file: the API and the pipeline process share it. */
export class SqliteProcessReports implements ProcessReports {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source));
    this.database.migrate(MIGRATIONS);
  }

  put(report: ProcessReport, ttlMs: number): Promise<void> {
    const now = this.clock.now();
    return this.database.write((db) => {
      db.statement<[number], never>(PURGE).run(now);
      db.statement<[Record<string, string | number>], never>(PUT).run({
        ...report,
        expiresAt: now + ttlMs,
      });
    });
  }

  live(): Promise<readonly ProcessReport[]> {
    const rows = this.database
      .statement<[number], { process: string; breaker: BreakerState; at: number }>(LIVE)
      .all(this.clock.now());
    return Promise.resolve(rows.map(({ process, breaker, at }) => ({ process, breaker, at })));
  }

  remove(process: string): Promise<void> {
    return this.database.write((db) => {
      db.statement<[string], never>(REMOVE).run(process);
    });
  }

  close(): Promise<void> {
    if (this.owned) this.database.close();
    return Promise.resolve();
  }
}

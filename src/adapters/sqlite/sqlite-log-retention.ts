import type { Clock } from '../../ports/clock.js';
import type { SqliteDatabase } from './sqlite-database.js';

/** Events one write op looks at: a few ms of the shared writer, so appends never wait long. */
const WINDOW = 500;

const GROUP_ROWS = 'SELECT name, offset, rewind_to FROM consumer_groups';
const WINDOW_SQL = `SELECT seq, at FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ${WINDOW}`;
/** Of the seqs bound as JSON: those no dead letter and no open retry of any group still needs. */
const DELETE_EVENTS = `DELETE FROM events WHERE seq IN (SELECT value FROM json_each(@seqs))
  AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.seq = events.seq)
  AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.seq = events.seq AND r.state IN ('waiting', 'redrive'))`;
/** The outcomes (`trace`) of the events just removed go with them. */
const DELETE_OUTCOMES = `DELETE FROM retries WHERE seq IN (SELECT value FROM json_each(@seqs))
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.seq = retries.seq)`;

/** Where the groups consumed in this process stand: their live offsets. */
export type LocalOffsets = () => ReadonlyMap<string, number>;

/**
 * The log's retention in the hot file: removes the events older than `logMs` that every
 * consumer group has finished (at or below its offset, a pending replay counting already)
 * and that neither a dead letter nor an open retry of any group needs, with their outcome
 * rows, one window of seqs per write op, yielding to the event loop between; then gives the
 * pages back. Seqs are appended in time order, so the scan stops at the first event young
 * enough to keep.
 */
export class SqliteLogRetention {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly clock: Clock,
    private readonly logMs: number,
    private readonly localOffsets: LocalOffsets,
  ) {}

  async apply(): Promise<number> {
    if (this.logMs <= 0) return 0;
    const cutoff = this.clock.now() - this.logMs;
    let after = 0;
    let removed = 0;
    for (;;) {
      const step = await this.database.write((db) => this.removeWindow(db, after, cutoff));
      removed += step.removed;
      if (step.scannedThrough === undefined) break;
      after = step.scannedThrough;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (removed > 0) await this.database.reclaimFreePages();
    return removed;
  }

  /** One window: undefined `scannedThrough` when the scan is over. */
  private removeWindow(
    db: SqliteDatabase,
    after: number,
    cutoff: number,
  ): { removed: number; scannedThrough: number | undefined } {
    const window = db
      .statement<[number, number], { seq: number; at: number }>(WINDOW_SQL)
      .all(after, this.finishedByAll(db));
    const old = window.filter((event) => event.at < cutoff);
    const seqs = JSON.stringify(old.map((event) => event.seq));
    const { changes } = db.statement<[{ seqs: string }], never>(DELETE_EVENTS).run({ seqs });
    if (changes > 0) db.statement<[{ seqs: string }], never>(DELETE_OUTCOMES).run({ seqs });
    const over = window.length < WINDOW || old.length < window.length;
    return { removed: changes, scannedThrough: over ? undefined : window.at(-1)?.seq };
  }

  /** The highest seq every group has finished; a log without groups has nothing held back. */
  private finishedByAll(db: SqliteDatabase): number {
    const local = this.localOffsets();
    let horizon = Number.MAX_SAFE_INTEGER;
    const rows = db
      .statement<[], { name: string; offset: number; rewind_to: number | null }>(GROUP_ROWS)
      .all();
    for (const row of rows) {
      const offset = local.get(row.name) ?? row.offset;
      const finished = row.rewind_to === null ? offset : Math.min(offset, row.rewind_to - 1);
      horizon = Math.min(horizon, finished);
    }
    for (const offset of local.values()) horizon = Math.min(horizon, offset);
    return horizon;
  }
}

import type { LogEvent } from '../../ports/event-log.js';
import type { SqliteDatabase } from './sqlite-database.js';
import {
  EVENT_COLUMNS,
  toLogEvent,
  TYPE_FILTER,
  type EventRow,
} from './sqlite-event-log-schema.js';

const BATCH = 256;

const FETCH = `SELECT ${EVENT_COLUMNS} FROM events
  WHERE seq > @after AND seq <= @upTo AND ${TYPE_FILTER} ORDER BY seq LIMIT @limit`;
const MAX_SEQ = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';

/**
 * A consumer group's read position in the log: the events of its types past the last one
 * it handed out, read a batch at a time into a buffer. It knows nothing of outcomes; the
 * group pins what it hands out, and the offset is the lower of the first pin and
 * `handedOutThrough`.
 */
export class SqliteReadCursor {
  private typesJson: string;
  /** Last seq handed out from the log. */
  private lastHandedOut: number;
  /** Every event at or below this seq has been read into the buffer or handed out. */
  private scanned: number;
  private buffer: LogEvent[] = [];

  constructor(
    private readonly database: SqliteDatabase,
    /** Where the group's row left it; `types` as JSON, undefined while there is no row. */
    start: { readonly offset: number; readonly types: string | undefined },
    /** The highest seq known appended: no read of the log while `scanned` is there. */
    private readonly latestSeq: () => number,
  ) {
    this.lastHandedOut = start.offset;
    this.scanned = start.offset;
    const types = start.types === undefined ? [] : (JSON.parse(start.types) as string[]);
    this.typesJson = JSON.stringify(types);
  }

  /** Last seq handed out from the log. */
  get position(): number {
    return this.lastHandedOut;
  }

  /** The group's types as JSON; an empty list matches every type. */
  get typeFilter(): string {
    return this.typesJson;
  }

  /** Every event at or below this seq has been handed out or is not of the group's types. */
  get handedOutThrough(): number {
    const buffered = this.buffer[0];
    return buffered ? buffered.seq - 1 : this.scanned;
  }

  /** The next event of the group's types, which becomes the position; none when caught up. */
  next(): LogEvent | undefined {
    if (this.buffer.length === 0) this.fill();
    const event = this.buffer.shift();
    if (event) this.lastHandedOut = event.seq;
    return event;
  }

  /** Goes on after `seq`, as if everything at or below it had been handed out. */
  moveTo(seq: number): void {
    this.lastHandedOut = seq;
    this.scanned = seq;
    this.buffer = [];
  }

  /** Goes on after the last event in the log now. */
  moveToEnd(): void {
    this.moveTo(this.maxSeq());
  }

  /** Other types from the position on: what the buffer holds was read with the old ones. */
  filter(types: readonly string[]): void {
    const typesJson = JSON.stringify(types);
    if (typesJson === this.typesJson) return;
    this.typesJson = typesJson;
    this.buffer = [];
    this.scanned = this.lastHandedOut;
  }

  /**
   * Reads the next batch. The highest seq is read first and the batch stops there: another
   * process may commit between the two reads, and its events must not be counted scanned.
   */
  private fill(): void {
    if (this.scanned >= this.latestSeq()) return;
    const upTo = this.maxSeq();
    const rows = this.database
      .statement<[{ after: number; upTo: number; types: string; limit: number }], EventRow>(FETCH)
      .all({ after: this.scanned, upTo, types: this.typesJson, limit: BATCH });
    const last = rows[rows.length - 1];
    if (last && rows.length === BATCH) this.scanned = last.seq;
    else this.scanned = Math.max(this.scanned, upTo);
    this.buffer = rows.map(toLogEvent);
  }

  private maxSeq(): number {
    return this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0;
  }
}

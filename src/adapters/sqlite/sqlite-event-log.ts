import type { Clock } from '../../ports/clock.js';
import type {
  ConsumerSpec,
  DeadLetter,
  DeadLetterQuery,
  Delivery,
  DeliveryOutcome,
  EventLog,
  EventTrace,
  GroupStats,
  NewEvent,
  ReplayFrom,
  ReplayRange,
  Subscription,
} from '../../ports/event-log.js';
import type { RetentionPolicy } from '../../ports/retention.js';
import { SqliteConsumerGroup } from './sqlite-consumer-group.js';
import { openOrShare, type SqliteDatabase } from './sqlite-database.js';
import {
  EVENT_COLUMNS,
  EVENT_LOG_MIGRATIONS,
  headersColumn,
  toLogEvent,
  type EventRow,
  type RetryState,
} from './sqlite-event-log-schema.js';
import { SqliteLogRetention } from './sqlite-log-retention.js';

const INSERT_EVENT = `INSERT OR IGNORE INTO events (id, type, key, data, at, headers)
  VALUES (@id, @type, @key, @data, @at, @headers)`;
const SELECT_DEAD_LETTERS = `SELECT d.id AS dead_id, d.group_name, d.attempts, d.last_error, d.at AS dead_at,
    e.seq, e.id, e.type, e.key, e.data, e.at, e.headers
  FROM dead_letters d JOIN events e ON e.seq = d.seq`;
const SELECT_DEAD_LETTER =
  'SELECT group_name, seq, attempts, last_error FROM dead_letters WHERE id = ?';
const DELETE_DEAD_LETTER = 'DELETE FROM dead_letters WHERE id = ?';
/** No attempts yet: a redriven letter gets a fresh set (its next delivery is attempt 1). */
const REDRIVE = `INSERT INTO retries (group_name, seq, attempts, not_before, last_error, state)
  VALUES (?, ?, 0, ?, ?, 'redrive')
  ON CONFLICT (group_name, seq) DO UPDATE SET attempts = 0,
    not_before = excluded.not_before, last_error = excluded.last_error, state = 'redrive'`;
const REQUEST_REWIND = `INSERT INTO consumer_groups (name, offset, types, rewind_to) VALUES (?, 0, '[]', ?)
  ON CONFLICT (name) DO UPDATE SET
    rewind_to = MIN(COALESCE(consumer_groups.rewind_to, excluded.rewind_to), excluded.rewind_to)`;
const FIRST_AT = 'SELECT MIN(seq) AS seq FROM events WHERE at >= ?';
const MAX_SEQ = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';
const GROUP_ROW = 'SELECT offset, rewind_to FROM consumer_groups WHERE name = ?';
const SELECT_GROUPS = 'SELECT name, offset, types, rewind_to FROM consumer_groups';
const COUNT_AFTER = 'SELECT COUNT(*) AS n FROM events WHERE seq > @after';
const COUNT_TYPES_AFTER = `SELECT COUNT(*) AS n FROM events
  WHERE type IN (SELECT value FROM json_each(@types)) AND seq > @after`;
const DLQ_COUNTS = 'SELECT group_name, COUNT(*) AS n FROM dead_letters GROUP BY group_name';
const EVENTS_BY_KEY = `SELECT ${EVENT_COLUMNS} FROM events WHERE key = ? ORDER BY seq`;
const RETRY_OF = 'SELECT attempts, last_error, state FROM retries WHERE group_name = ? AND seq = ?';
const DEAD_LETTER_OF =
  'SELECT attempts, last_error FROM dead_letters WHERE group_name = ? AND seq = ?';

interface EventInsert {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly data: string;
  readonly at: number;
  readonly headers: string | null;
}

interface DeadLetterRow extends EventRow {
  readonly dead_id: string;
  readonly group_name: string;
  readonly attempts: number;
  readonly last_error: string;
  readonly dead_at: number;
}

interface GroupView {
  readonly offset: number;
  readonly position: number;
  readonly types: readonly string[];
  readonly inFlight: number;
  readonly isHandedOut: (seq: number) => boolean;
}

/**
 * The event log in the hot SQLite file. Appends join the shared group commit; consumers in
 * this process are woken right after the commit. Appends of other processes on the file
 * (an `api` and a `worker` role sharing a data dir) wake them once the file's commit check
 * sees them (`SqliteDatabase.onOtherCommit`), which runs while this process consumes. A
 * consumer group with an empty `types` list receives every type. Without a retention policy
 * it keeps every event and a group's dead letters are not limited.
 */
export class SqliteEventLog implements EventLog {
  private readonly database: SqliteDatabase;
  private readonly owned: boolean;
  private readonly groups = new Map<string, SqliteConsumerGroup>();
  private closed = false;
  private wakeScheduled = false;
  /**
   * The highest seq appended as far as this process knows: a caught-up group skips its
   * read while nothing was appended past what it scanned. Appends of other processes
   * raise it when the file's commit check sees them.
   */
  private lastSeq: number;
  private stopWatchingOthers: (() => void) | undefined;
  private readonly retention: SqliteLogRetention;

  constructor(
    source: SqliteDatabase | string,
    private readonly clock: Clock,
    private readonly policy?: RetentionPolicy,
  ) {
    ({ database: this.database, owned: this.owned } = openOrShare(source, {
      reclaimsSpace: policy !== undefined,
    }));
    this.database.migrate(EVENT_LOG_MIGRATIONS);
    this.lastSeq = this.maxSeq();
    this.retention = new SqliteLogRetention(
      this.database,
      clock,
      policy?.logMs ?? 0,
      () => new Map([...this.groups].map(([name, group]) => [name, group.offset])),
    );
  }

  async append(events: readonly NewEvent[]): Promise<void> {
    if (this.closed) throw new Error('the event log is closed');
    if (events.length === 0) return;
    await this.database.write((db) => this.insertWithin(db, events));
    this.appended();
  }

  /**
   * Whether `database` is this log's file: a store on it can write events inside its own
   * write op (`insertWithin`) and so commit them with its change.
   */
  sharesDatabase(database: SqliteDatabase): boolean {
    return database === this.database;
  }

  /** Inserts events inside a running write op of the shared database; call `appended` after the commit. */
  insertWithin(db: SqliteDatabase, events: readonly NewEvent[]): void {
    if (this.closed) throw new Error('the event log is closed');
    const at = this.clock.now();
    const insert = db.statement<[EventInsert], never>(INSERT_EVENT);
    for (const event of events) {
      const result = insert.run({
        id: event.id,
        type: event.type,
        key: event.key,
        data: JSON.stringify(event.data ?? null),
        at,
        headers: headersColumn(event.headers),
      });
      if (result.changes === 1)
        this.lastSeq = Math.max(this.lastSeq, Number(result.lastInsertRowid));
    }
  }

  /** Wakes the consumers after events were committed. */
  appended(): void {
    this.wakeAll();
  }

  consume(spec: ConsumerSpec, deliver: (delivery: Delivery) => void): Subscription {
    if (this.closed) throw new Error('the event log is closed');
    this.watchOtherProcesses();
    return this.group(spec.group).subscribe(spec, deliver);
  }

  /** Ordered by (at, id), paged on that pair: a range of `dead_letters_at`. */
  deadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const { group, errorContains, after, limit } = query;
    const params: Record<string, string | number> = { limit };
    const where: string[] = [];
    if (group !== undefined) {
      where.push('d.group_name = @group');
      params['group'] = group;
    }
    if (errorContains !== undefined) {
      where.push('instr(d.last_error, @error) > 0');
      params['error'] = errorContains;
    }
    if (after !== undefined) {
      where.push('(d.at, d.id) > (@afterAt, @afterId)');
      params['afterAt'] = after.at;
      params['afterId'] = after.id;
    }
    const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
    const rows = this.database
      .statement<[Record<string, string | number>], DeadLetterRow>(
        `${SELECT_DEAD_LETTERS}${filter} ORDER BY d.at, d.id LIMIT @limit`,
      )
      .all(params);
    return Promise.resolve(
      rows.map((row) => ({
        id: row.dead_id,
        group: row.group_name,
        event: toLogEvent(row),
        attempts: row.attempts,
        lastError: row.last_error,
        at: row.dead_at,
      })),
    );
  }

  async redrive(deadLetterId: string): Promise<boolean> {
    const now = this.clock.now();
    const letter = await this.database.write((db) => {
      const row = takeDeadLetter(db, deadLetterId);
      if (!row) return undefined;
      db.statement<[string, number, number, string], never>(REDRIVE).run(
        row.group_name,
        row.seq,
        now,
        row.last_error,
      );
      return row;
    });
    if (!letter) return false;
    const group = this.groups.get(letter.group_name);
    group?.scheduleRetry(letter.seq, 0, 0);
    group?.roomInDeadLetters();
    return true;
  }

  /** The group's outcome stays `dead`: the term recorded it in `retries` beside the letter. */
  async discard(deadLetterId: string): Promise<boolean> {
    const letter = await this.database.write((db) => takeDeadLetter(db, deadLetterId));
    if (!letter) return false;
    this.groups.get(letter.group_name)?.roomInDeadLetters();
    return true;
  }

  /**
   * Rewinds the group to the first event at or after `from`. It only ever moves a group
   * back: a point after its position changes nothing, so a replay never skips events. A
   * group not consumed in this process is rewound by the process that consumes it (now, or
   * when it starts): the request waits in the file.
   */
  async replay(group: string, from: ReplayFrom): Promise<ReplayRange> {
    const through = this.maxSeq();
    const seq = 'seq' in from ? from.seq : this.firstSeqAt(from.time);
    const range = { from: Math.max(1, seq), through };
    const consumer = this.groups.get(group);
    if (consumer?.consuming) {
      consumer.rewind(seq);
      await consumer.persist();
      return range;
    }
    await this.database.write((db) =>
      db.statement<[string, number], never>(REQUEST_REWIND).run(group, seq),
    );
    return range;
  }

  /**
   * The group's offset: this process's when it has the group, else as the consuming process
   * last wrote it. A replay asked of another process and not taken up yet counts already.
   */
  finishedThrough(group: string): Promise<number | undefined> {
    const row = this.database
      .statement<[string], { offset: number; rewind_to: number | null }>(GROUP_ROW)
      .get(group);
    const local = this.groups.get(group);
    if (!row && !local) return Promise.resolve(undefined);
    const offset = local?.offset ?? row?.offset ?? 0;
    const rewindTo = row?.rewind_to ?? null;
    return Promise.resolve(rewindTo === null ? offset : Math.min(offset, rewindTo - 1));
  }

  stats(): Promise<Record<string, GroupStats>> {
    const dlq = new Map(
      this.database
        .statement<[], { group_name: string; n: number }>(DLQ_COUNTS)
        .all()
        .map((row) => [row.group_name, row.n]),
    );
    const countAll = this.database.statement<[{ after: number }], { n: number }>(COUNT_AFTER);
    const countTypes = this.database.statement<[{ after: number; types: string }], { n: number }>(
      COUNT_TYPES_AFTER,
    );
    const stats: Record<string, GroupStats> = {};
    for (const [name, view] of this.knownGroups()) {
      const after = view.position;
      const lag =
        (view.types.length === 0
          ? countAll.get({ after })
          : countTypes.get({ after, types: JSON.stringify(view.types) })
        )?.n ?? 0;
      stats[name] = { lag, inFlight: view.inFlight, dlq: dlq.get(name) ?? 0 };
    }
    return Promise.resolve(stats);
  }

  trace(key: string): Promise<EventTrace[]> {
    const events = this.database
      .statement<[string], EventRow>(EVENTS_BY_KEY)
      .all(key)
      .map(toLogEvent);
    const groups = this.knownGroups();
    return Promise.resolve(
      events.map((event) => {
        const outcomes: Record<string, DeliveryOutcome> = {};
        for (const [name, view] of groups) {
          if (view.types.length > 0 && !view.types.includes(event.type)) continue;
          outcomes[name] = this.outcome(name, view, event.seq);
        }
        return { event, outcomes };
      }),
    );
  }

  applyRetention(): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the event log is closed'));
    return this.retention.apply();
  }

  ping(): Promise<boolean> {
    if (this.closed || !this.database.isOpen) return Promise.resolve(false);
    return Promise.resolve(
      this.database.statement<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1,
    );
  }

  close(): Promise<void> {
    this.closed = true;
    this.stopWatchingOthers?.();
    for (const group of this.groups.values()) group.close();
    if (this.owned) this.database.close();
    return Promise.resolve();
  }

  /**
   * One wake per turn of the event loop, however many writes of the batch that just
   * committed emitted events: each wake costs every group a read of the log.
   */
  private wakeAll(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const group of this.groups.values()) group.pump();
    });
  }

  /** From the first consumer on: appends of other processes wake the groups too. */
  private watchOtherProcesses(): void {
    if (this.stopWatchingOthers) return;
    const caughtUp = (): void => {
      this.lastSeq = Math.max(this.lastSeq, this.maxSeq());
    };
    this.stopWatchingOthers = this.database.onOtherCommit(() => {
      caughtUp();
      for (const group of this.groups.values()) group.adoptRequests();
      this.wakeAll();
    });
    // What they appended before the check began.
    caughtUp();
  }

  private maxSeq(): number {
    return this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0;
  }

  private group(name: string): SqliteConsumerGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = new SqliteConsumerGroup(
        name,
        this.database,
        this.clock,
        () => this.lastSeq,
        this.policy?.deadLettersPerGroup,
      );
      this.groups.set(name, group);
    }
    return group;
  }

  private firstSeqAt(time: number): number {
    const first = this.database
      .statement<[number], { seq: number | null }>(FIRST_AT)
      .get(time)?.seq;
    if (first !== null && first !== undefined) return first;
    return (this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0) + 1;
  }

  /** Groups of running subscriptions and of the consumer_groups table. */
  private knownGroups(): Map<string, GroupView> {
    const views = new Map<string, GroupView>();
    const rows = this.database
      .statement<[], { name: string; offset: number; types: string; rewind_to: number | null }>(
        SELECT_GROUPS,
      )
      .all();
    for (const row of rows) {
      views.set(row.name, {
        offset: row.offset,
        // A replay asked of the process that consumes the group counts as lag at once.
        position: row.rewind_to === null ? row.offset : Math.min(row.offset, row.rewind_to - 1),
        types: JSON.parse(row.types) as string[],
        inFlight: 0,
        isHandedOut: () => false,
      });
    }
    for (const [name, group] of this.groups) {
      views.set(name, {
        offset: group.offset,
        position: group.position,
        types: JSON.parse(group.typeFilter) as string[],
        inFlight: group.inFlight,
        isHandedOut: (seq) => group.isHandedOut(seq),
      });
    }
    return views;
  }

  private outcome(group: string, view: GroupView, seq: number): DeliveryOutcome {
    const dead = this.database
      .statement<[string, number], { attempts: number; last_error: string }>(DEAD_LETTER_OF)
      .get(group, seq);
    if (dead) return { state: 'dead', attempts: dead.attempts, lastError: dead.last_error };
    const retry = this.database
      .statement<
        [string, number],
        { attempts: number; last_error: string | null; state: RetryState }
      >(RETRY_OF)
      .get(group, seq);
    if (retry) {
      const state =
        retry.state === 'acked' ? 'acked' : retry.state === 'dead' ? 'dead' : 'retrying';
      return withError({ state, attempts: retry.attempts }, retry.last_error);
    }
    if (seq <= view.offset) return { state: 'acked', attempts: 1 };
    return { state: 'pending', attempts: view.isHandedOut(seq) ? 1 : 0 };
  }
}

function withError(outcome: DeliveryOutcome, lastError: string | null): DeliveryOutcome {
  return lastError === null ? outcome : { ...outcome, lastError };
}

/** Removes a dead letter inside a write op; what it said, or undefined when there was none. */
function takeDeadLetter(
  db: SqliteDatabase,
  deadLetterId: string,
): { group_name: string; seq: number; attempts: number; last_error: string } | undefined {
  const row = db
    .statement<[string], { group_name: string; seq: number; attempts: number; last_error: string }>(
      SELECT_DEAD_LETTER,
    )
    .get(deadLetterId);
  if (row) db.statement<[string], never>(DELETE_DEAD_LETTER).run(deadLetterId);
  return row;
}

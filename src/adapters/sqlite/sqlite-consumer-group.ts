import type { Clock } from '../../ports/clock.js';
import type { ConsumerSpec, Delivery, LogEvent, Subscription } from '../../ports/event-log.js';
import { reportBackgroundError, type SqliteDatabase } from './sqlite-database.js';
import {
  deadLetterId,
  EVENT_COLUMNS,
  toLogEvent,
  TYPE_FILTER,
  type EventRow,
} from './sqlite-event-log-schema.js';

const BATCH = 256;

const SELECT_GROUP = 'SELECT offset, types FROM consumer_groups WHERE name = ?';
const SELECT_OPEN_RETRIES = `SELECT seq, attempts, not_before FROM retries
  WHERE group_name = ? AND state IN ('waiting', 'redrive') ORDER BY seq`;
const FETCH = `SELECT ${EVENT_COLUMNS} FROM events
  WHERE seq > @after AND ${TYPE_FILTER} ORDER BY seq LIMIT @limit`;
const MAX_SEQ = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';
const EVENT_BY_SEQ = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq = ?`;
const UPSERT_GROUP = `INSERT INTO consumer_groups (name, offset, types) VALUES (?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET offset = excluded.offset, types = excluded.types`;
const RETRY_ACKED = `UPDATE retries SET state = 'acked', attempts = ? WHERE group_name = ? AND seq = ?`;
const RETRY_WAIT = `INSERT INTO retries (group_name, seq, attempts, not_before, last_error, state)
  VALUES (?, ?, ?, ?, ?, 'waiting')
  ON CONFLICT (group_name, seq) DO UPDATE SET attempts = excluded.attempts,
    not_before = excluded.not_before, last_error = COALESCE(excluded.last_error, last_error), state = 'waiting'`;
const RETRY_DEAD = `UPDATE retries SET state = 'dead', attempts = ?, last_error = ? WHERE group_name = ? AND seq = ?`;
const INSERT_DEAD_LETTER = `INSERT OR REPLACE INTO dead_letters (id, group_name, seq, attempts, last_error, at)
  VALUES (?, ?, ?, ?, ?, ?)`;

interface Handout {
  readonly event: LogEvent;
  readonly attempt: number;
  /** Read from the log (counts for the offset) rather than from the retry schedule. */
  readonly fresh: boolean;
  readonly epoch: number;
}

interface Subscriber {
  readonly maxInFlight: number;
  readonly deliver: (delivery: Delivery) => void;
}

interface ScheduledRetry {
  readonly attempts: number;
  timer?: NodeJS.Timeout;
}

/**
 * One consumer group in this process: its read position, the deliveries it has out and
 * its retry schedule. Durable state is the offset (every seq at or below it is finished)
 * and the retries / dead_letters rows; the rest is rebuilt from them on start, which is
 * why everything above the offset is delivered again after a restart.
 */
export class SqliteConsumerGroup {
  private types: readonly string[];
  private typesJson: string;
  /** Last seq handed out from the log. */
  private cursor: number;
  /** Every event at or below this seq has been read into the buffer or handed out. */
  private scanned: number;
  private buffer: LogEvent[] = [];
  /** Fresh seqs handed out and not yet ended, ascending; bumped with `epoch` by a replay. */
  private handedOut = new Set<number>();
  private epoch = 0;
  private persistedOffset: number;
  private persistQueued = false;
  private readonly retries = new Map<number, ScheduledRetry>();
  private readonly due = new Set<number>();
  private outstanding = 0;
  private subscriber: Subscriber | undefined;
  private idleWaiters: (() => void)[] = [];
  private pumping = false;
  private pumpAgain = false;

  constructor(
    readonly name: string,
    private readonly database: SqliteDatabase,
    private readonly clock: Clock,
    /** The highest seq known appended: no read of the log while `scanned` is there. */
    private readonly latestSeq: () => number,
  ) {
    const row = database
      .statement<[string], { offset: number; types: string }>(SELECT_GROUP)
      .get(name);
    this.persistedOffset = row?.offset ?? 0;
    this.cursor = this.persistedOffset;
    this.scanned = this.persistedOffset;
    this.types = row ? (JSON.parse(row.types) as string[]) : [];
    this.typesJson = JSON.stringify(this.types);
    const open = database
      .statement<[string], { seq: number; attempts: number; not_before: number }>(
        SELECT_OPEN_RETRIES,
      )
      .all(name);
    for (const retry of open)
      this.scheduleRetry(retry.seq, retry.attempts, retry.not_before - clock.now());
  }

  get inFlight(): number {
    return this.outstanding;
  }

  /** Last seq handed out: `lag` counts matching events after it. */
  get position(): number {
    return this.cursor;
  }

  get typeFilter(): string {
    return this.typesJson;
  }

  /** Every seq at or below this one is finished for the group. */
  get offset(): number {
    const first = this.handedOut.values().next();
    if (!first.done) return first.value - 1;
    const buffered = this.buffer[0];
    return buffered ? buffered.seq - 1 : this.scanned;
  }

  isHandedOut(seq: number): boolean {
    return this.handedOut.has(seq);
  }

  subscribe(spec: ConsumerSpec, deliver: (delivery: Delivery) => void): Subscription {
    if (this.subscriber)
      throw new Error(`consumer group ${this.name} is already consuming in this process`);
    const subscriber: Subscriber = { maxInFlight: Math.max(1, spec.maxInFlight), deliver };
    this.subscriber = subscriber;
    if (JSON.stringify(spec.types) !== this.typesJson) {
      this.types = [...spec.types];
      this.typesJson = JSON.stringify(this.types);
      this.buffer = [];
      this.scanned = this.cursor;
    }
    this.background(this.persist());
    queueMicrotask(() => this.pump());
    let stopping: Promise<void> | undefined;
    return { stop: () => (stopping ??= this.stop(subscriber)) };
  }

  /** Hands out deliveries while the subscriber has room: due retries first, then the log. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (;;) {
          const subscriber = this.subscriber;
          if (!subscriber || this.outstanding >= subscriber.maxInFlight) break;
          const next = this.nextRetry() ?? this.nextFresh();
          if (!next) break;
          this.hand(subscriber, next);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.persistSoon();
  }

  /** Schedules a redelivery with attempt `attempts + 1` after `delayMs`. */
  scheduleRetry(seq: number, attempts: number, delayMs: number): void {
    const previous = this.retries.get(seq);
    if (previous?.timer) clearTimeout(previous.timer);
    this.due.delete(seq);
    const entry: ScheduledRetry = { attempts };
    this.retries.set(seq, entry);
    if (delayMs <= 0) {
      this.due.add(seq);
      this.pump();
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.due.add(seq);
      this.pump();
    }, delayMs);
    entry.timer.unref();
  }

  /**
   * Moves the group back so that `seq` is the next event it is handed from the log. Never
   * past an unfinished delivery: those are handed out again rather than risk losing them.
   */
  rewind(seq: number): void {
    if (seq - 1 >= this.cursor) return;
    const to = Math.max(0, Math.min(seq - 1, this.offset));
    this.epoch += 1;
    this.handedOut = new Set();
    this.buffer = [];
    this.cursor = to;
    this.scanned = to;
    this.pump();
  }

  /** Records the offset (and the group's types) in the next group commit. */
  persist(): Promise<void> {
    return this.database.write((db) => {
      this.persistQueued = false;
      const offset = this.offset;
      db.statement<[string, number, string], never>(UPSERT_GROUP).run(
        this.name,
        offset,
        this.typesJson,
      );
      this.persistedOffset = offset;
    });
  }

  close(): void {
    this.subscriber = undefined;
    for (const retry of this.retries.values()) if (retry.timer) clearTimeout(retry.timer);
    this.retries.clear();
    this.due.clear();
    this.wakeIdleWaiters();
  }

  private async stop(subscriber: Subscriber): Promise<void> {
    if (this.subscriber === subscriber) this.subscriber = undefined;
    if (this.outstanding > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.persist().catch(reportBackgroundError);
  }

  private nextRetry(): Handout | undefined {
    for (const seq of this.due) {
      this.due.delete(seq);
      const retry = this.retries.get(seq);
      this.retries.delete(seq);
      const row = this.database.statement<[number], EventRow>(EVENT_BY_SEQ).get(seq);
      if (!retry || !row) continue;
      return {
        event: toLogEvent(row),
        attempt: retry.attempts + 1,
        fresh: false,
        epoch: this.epoch,
      };
    }
    return undefined;
  }

  private nextFresh(): Handout | undefined {
    if (this.buffer.length === 0) this.fill();
    const event = this.buffer.shift();
    if (!event) return undefined;
    this.cursor = event.seq;
    this.handedOut.add(event.seq);
    return { event, attempt: 1, fresh: true, epoch: this.epoch };
  }

  private fill(): void {
    if (this.scanned >= this.latestSeq()) return;
    const rows = this.database
      .statement<[{ after: number; types: string; limit: number }], EventRow>(FETCH)
      .all({ after: this.scanned, types: this.typesJson, limit: BATCH });
    const last = rows[rows.length - 1];
    if (last && rows.length === BATCH) this.scanned = last.seq;
    else {
      const max = this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0;
      this.scanned = Math.max(this.scanned, max);
    }
    this.buffer = rows.map(toLogEvent);
  }

  private hand(subscriber: Subscriber, handout: Handout): void {
    this.outstanding += 1;
    let ended = false;
    const end = (outcome: () => void): void => {
      if (ended) return;
      ended = true;
      this.outstanding -= 1;
      if (handout.fresh && handout.epoch === this.epoch) this.handedOut.delete(handout.event.seq);
      outcome();
      this.pump();
      if (this.outstanding === 0) this.wakeIdleWaiters();
    };
    const delivery: Delivery = {
      event: handout.event,
      attempt: handout.attempt,
      ack: () => end(() => this.acked(handout)),
      nak: (delayMs, error) => end(() => this.nakked(handout, delayMs, error)),
      term: (reason) => end(() => this.termed(handout, reason)),
      // In-flight deliveries live in this process's memory and nothing redelivers them
      // while it runs, so there is no deadline to push back.
      working: () => undefined,
    };
    try {
      subscriber.deliver(delivery);
    } catch (error) {
      delivery.nak(1_000, error instanceof Error ? error.message : String(error));
    }
  }

  private acked(handout: Handout): void {
    if (handout.fresh) return;
    const { seq } = handout.event;
    this.background(
      this.database.write((db) =>
        db
          .statement<[number, string, number], never>(RETRY_ACKED)
          .run(handout.attempt, this.name, seq),
      ),
    );
  }

  private nakked(handout: Handout, delayMs: number, error: string | undefined): void {
    const delay = Math.max(0, delayMs);
    const { seq } = handout.event;
    const notBefore = this.clock.now() + delay;
    this.background(
      this.database.write((db) =>
        db
          .statement<[string, number, number, number, string | null], never>(RETRY_WAIT)
          .run(this.name, seq, handout.attempt, notBefore, error ?? null),
      ),
    );
    this.scheduleRetry(seq, handout.attempt, delay);
  }

  private termed(handout: Handout, reason: string): void {
    const { seq } = handout.event;
    const at = this.clock.now();
    this.background(
      this.database.write((db) => {
        db.statement<[string, string, number, number, string, number], never>(
          INSERT_DEAD_LETTER,
        ).run(deadLetterId(this.name, seq), this.name, seq, handout.attempt, reason, at);
        db.statement<[number, string, string, number], never>(RETRY_DEAD).run(
          handout.attempt,
          reason,
          this.name,
          seq,
        );
      }),
    );
  }

  private persistSoon(): void {
    if (this.persistQueued || this.offset === this.persistedOffset) return;
    this.persistQueued = true;
    this.background(this.persist());
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private background(write: Promise<unknown>): void {
    write.catch(reportBackgroundError);
  }
}

import type { Clock } from '../../ports/clock.js';
import type { ConsumerSpec, Delivery, LogEvent, Subscription } from '../../ports/event-log.js';
import { reportBackgroundError, type SqliteDatabase } from './sqlite-database.js';
import { SqliteGroupOffset } from './sqlite-group-offset.js';
import {
  deadLetterId,
  EVENT_COLUMNS,
  toLogEvent,
  TYPE_FILTER,
  type EventRow,
} from './sqlite-event-log-schema.js';

const BATCH = 256;
/** A delivery whose outcome could not be written is handed out again after this long. */
const REDELIVER_AFTER_FAILED_WRITE_MS = 500;

const SELECT_OPEN_RETRIES = `SELECT seq, attempts, not_before FROM retries
  WHERE group_name = ? AND state IN ('waiting', 'redrive') ORDER BY seq`;
const SELECT_REDRIVES = `SELECT seq, attempts FROM retries
  WHERE group_name = ? AND state = 'redrive' ORDER BY seq`;
const FETCH = `SELECT ${EVENT_COLUMNS} FROM events
  WHERE seq > @after AND seq <= @upTo AND ${TYPE_FILTER} ORDER BY seq LIMIT @limit`;
const MAX_SEQ = 'SELECT COALESCE(MAX(seq), 0) AS seq FROM events';
const EVENT_BY_SEQ = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq = ?`;
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
  /** Read from the log rather than from the retry schedule: no retries row to update. */
  readonly fresh: boolean;
  /**
   * Holds the offset below this seq until its outcome has committed: a delivery read from
   * the log, or the redelivery of one whose outcome failed to commit.
   */
  readonly pinned: boolean;
  readonly epoch: number;
}

/** How a delivery ended: the write that records it, then what follows once it committed. */
interface Outcome {
  /** None for a first delivery acked: the offset moving past it is its record. */
  readonly write?: (db: SqliteDatabase) => void;
  /** A nak: handed out again this long after the retry was recorded. */
  readonly retryInMs?: number;
}

interface Subscriber {
  readonly maxInFlight: number;
  readonly deliver: (delivery: Delivery) => void;
}

interface ScheduledRetry {
  readonly attempts: number;
  /** The redelivery holds the pin of a delivery whose outcome failed to commit. */
  readonly pinned: boolean;
  readonly epoch: number;
  timer?: NodeJS.Timeout;
}

/**
 * One consumer group in this process: its read position, the deliveries it has out and
 * its retry schedule. Durable state is the offset (every seq at or below it is finished)
 * and the retries / dead_letters rows; the rest is rebuilt from them on start, which is
 * why everything above the offset is delivered again after a restart.
 *
 * The offset never passes an event before its outcome is durable: a delivery counts as
 * outstanding until the write of its retry or dead letter has committed, and when that
 * write fails (a read-only or full file) the event is handed out again later, its seq still
 * holding the offset back, also across a stop.
 */
export class SqliteConsumerGroup {
  private types: readonly string[];
  private typesJson: string;
  /** Last seq handed out from the log. */
  private cursor: number;
  /** Every event at or below this seq has been read into the buffer or handed out. */
  private scanned: number;
  private buffer: LogEvent[] = [];
  /**
   * Seqs read from the log whose outcome has not committed yet, ascending: handed out,
   * being recorded, or waiting to be handed out again after a failed write. Reset with
   * `epoch` by a replay.
   */
  private handedOut = new Set<number>();
  private epoch = 0;
  private readonly recorded: SqliteGroupOffset;
  private closed = false;
  private readonly retries = new Map<number, ScheduledRetry>();
  /** Seqs handed out again from the retry schedule and not settled yet. */
  private readonly redelivering = new Set<number>();
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
    this.recorded = new SqliteGroupOffset(name, database, () => ({
      offset: this.offset,
      types: this.typesJson,
    }));
    const { offset, types } = this.recorded.stored;
    this.cursor = offset;
    this.scanned = offset;
    this.types = types === undefined ? [] : (JSON.parse(types) as string[]);
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

  /** A subscriber in this process receives the group's deliveries. */
  get consuming(): boolean {
    return this.subscriber !== undefined;
  }

  subscribe(spec: ConsumerSpec, deliver: (delivery: Delivery) => void): Subscription {
    if (this.subscriber)
      throw new Error(`consumer group ${this.name} is already consuming in this process`);
    const subscriber: Subscriber = { maxInFlight: Math.max(1, spec.maxInFlight), deliver };
    this.subscriber = subscriber;
    if (spec.startAt === 'now' && this.recorded.isNew && this.cursor === 0) {
      // A new group that wants only what comes from now on: everything before is finished.
      const upTo = this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0;
      this.cursor = upTo;
      this.scanned = upTo;
      this.buffer = [];
    }
    if (JSON.stringify(spec.types) !== this.typesJson) {
      this.types = [...spec.types];
      this.typesJson = JSON.stringify(this.types);
      this.buffer = [];
      this.scanned = this.cursor;
    }
    this.recorded.writeSoon();
    // Never delivers from inside `consume`: the caller does not hold the subscription yet.
    queueMicrotask(() => {
      this.adoptRequests();
      this.pump();
    });
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
    this.recorded.writeSoon();
  }

  /** Schedules a redelivery with attempt `attempts + 1` after `delayMs`. */
  scheduleRetry(seq: number, attempts: number, delayMs: number, pinned = false): void {
    if (this.closed) return;
    const previous = this.retries.get(seq);
    if (previous?.timer) clearTimeout(previous.timer);
    this.due.delete(seq);
    const entry: ScheduledRetry = {
      attempts,
      // A pin is never dropped with the entry that held it: its seq would stay held forever.
      pinned: pinned || (previous !== undefined && this.holdsPin(previous)),
      epoch: this.epoch,
    };
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

  /**
   * Applies what another process (an `api` beside this `worker`) asked of the group in the
   * file: a replay (`rewind_to`) and redriven dead letters. Run on subscribe and after other
   * processes committed.
   */
  adoptRequests(): void {
    if (!this.subscriber) return;
    const rewindTo = this.recorded.requestedRewind();
    if (rewindTo !== undefined) {
      this.rewind(rewindTo);
      this.recorded.adopted(rewindTo);
    }
    const redrives = this.database
      .statement<[string], { seq: number; attempts: number }>(SELECT_REDRIVES)
      .all(this.name);
    for (const { seq, attempts } of redrives) {
      if (!this.retries.has(seq) && !this.redelivering.has(seq))
        this.scheduleRetry(seq, attempts, 0);
    }
  }

  /** Records the offset (and the group's types) in the next group commit. */
  persist(): Promise<void> {
    return this.recorded.write();
  }

  close(): void {
    this.closed = true;
    this.subscriber = undefined;
    this.recorded.close();
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
      if (!retry) continue;
      const pinned = this.holdsPin(retry);
      const row = this.database.statement<[number], EventRow>(EVENT_BY_SEQ).get(seq);
      if (!row) {
        if (pinned) this.handedOut.delete(seq);
        continue;
      }
      this.redelivering.add(seq);
      return {
        event: toLogEvent(row),
        attempt: retry.attempts + 1,
        fresh: false,
        pinned,
        epoch: this.epoch,
      };
    }
    return undefined;
  }

  /** A replay drops the pins of the deliveries before it: their seqs are read again. */
  private holdsPin(entry: { readonly pinned: boolean; readonly epoch: number }): boolean {
    return entry.pinned && entry.epoch === this.epoch;
  }

  private nextFresh(): Handout | undefined {
    if (this.buffer.length === 0) this.fill();
    const event = this.buffer.shift();
    if (!event) return undefined;
    this.cursor = event.seq;
    this.handedOut.add(event.seq);
    return { event, attempt: 1, fresh: true, pinned: true, epoch: this.epoch };
  }

  /**
   * Reads the next batch. The highest seq is read first and the batch stops there: another
   * process may commit between the two reads, and its events must not be counted scanned.
   */
  private fill(): void {
    if (this.scanned >= this.latestSeq()) return;
    const upTo = this.database.statement<[], { seq: number }>(MAX_SEQ).get()?.seq ?? 0;
    const rows = this.database
      .statement<[{ after: number; upTo: number; types: string; limit: number }], EventRow>(FETCH)
      .all({ after: this.scanned, upTo, types: this.typesJson, limit: BATCH });
    const last = rows[rows.length - 1];
    if (last && rows.length === BATCH) this.scanned = last.seq;
    else this.scanned = Math.max(this.scanned, upTo);
    this.buffer = rows.map(toLogEvent);
  }

  private hand(subscriber: Subscriber, handout: Handout): void {
    this.outstanding += 1;
    let ended = false;
    const end = (outcome: Outcome): void => {
      if (ended) return;
      ended = true;
      if (!outcome.write) {
        this.settled(handout, outcome);
        return;
      }
      this.database.write(outcome.write).then(
        () => this.settled(handout, outcome),
        (error: unknown) => this.unrecorded(handout, outcome, error),
      );
    };
    const delivery: Delivery = {
      event: handout.event,
      attempt: handout.attempt,
      ack: () => end(this.acked(handout)),
      nak: (delayMs, error) => end(this.nakked(handout, delayMs, error)),
      term: (reason) => end(this.termed(handout, reason)),
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

  /** The outcome is durable: the delivery ends, and its seq no longer holds the offset. */
  private settled(handout: Handout, outcome: Outcome): void {
    const { seq } = handout.event;
    this.outstanding -= 1;
    this.redelivering.delete(seq);
    if (this.holdsPin(handout)) this.handedOut.delete(seq);
    if (outcome.retryInMs !== undefined)
      this.scheduleRetry(seq, handout.attempt, outcome.retryInMs);
    this.delivered();
  }

  /** The outcome did not commit: the event is handed out again, its pin kept. */
  private unrecorded(handout: Handout, outcome: Outcome, error: unknown): void {
    reportBackgroundError(error);
    this.outstanding -= 1;
    this.redelivering.delete(handout.event.seq);
    const delay = Math.max(outcome.retryInMs ?? 0, REDELIVER_AFTER_FAILED_WRITE_MS);
    this.scheduleRetry(handout.event.seq, handout.attempt, delay, this.holdsPin(handout));
    this.delivered();
  }

  private delivered(): void {
    this.pump();
    if (this.outstanding === 0) this.wakeIdleWaiters();
  }

  private acked(handout: Handout): Outcome {
    if (handout.fresh) return {};
    const { seq } = handout.event;
    return {
      write: (db) =>
        db
          .statement<[number, string, number], never>(RETRY_ACKED)
          .run(handout.attempt, this.name, seq),
    };
  }

  private nakked(handout: Handout, delayMs: number, error: string | undefined): Outcome {
    const delay = Math.max(0, delayMs);
    const { seq } = handout.event;
    const notBefore = this.clock.now() + delay;
    return {
      write: (db) =>
        db
          .statement<[string, number, number, number, string | null], never>(RETRY_WAIT)
          .run(this.name, seq, handout.attempt, notBefore, error ?? null),
      retryInMs: delay,
    };
  }

  private termed(handout: Handout, reason: string): Outcome {
    const { seq } = handout.event;
    const at = this.clock.now();
    return {
      write: (db) => {
        db.statement<[string, string, number, number, string, number], never>(
          INSERT_DEAD_LETTER,
        ).run(deadLetterId(this.name, seq), this.name, seq, handout.attempt, reason, at);
        db.statement<[number, string, string, number], never>(RETRY_DEAD).run(
          handout.attempt,
          reason,
          this.name,
          seq,
        );
      },
    };
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

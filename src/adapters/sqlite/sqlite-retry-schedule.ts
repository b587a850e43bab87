import type { Clock } from '../../ports/clock.js';
import type { SqliteDatabase } from './sqlite-database.js';
import type { Handout } from './sqlite-delivery-outcome.js';
import { EVENT_COLUMNS, toLogEvent, type EventRow } from './sqlite-event-log-schema.js';
import type { PinClaim, SqliteOffsetPins } from './sqlite-offset-pins.js';

const SELECT_OPEN_RETRIES = `SELECT seq, attempts, not_before FROM retries
  WHERE group_name = ? AND state IN ('waiting', 'redrive') ORDER BY seq`;
const SELECT_REDRIVES = `SELECT seq, attempts FROM retries
  WHERE group_name = ? AND state = 'redrive' ORDER BY seq`;
const EVENT_BY_SEQ = `SELECT ${EVENT_COLUMNS} FROM events WHERE seq = ?`;

interface ScheduledRetry extends PinClaim {
  readonly attempts: number;
  /** The redelivery holds the pin of a delivery whose outcome failed to commit. */
  readonly pinned: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * A consumer group's redeliveries in this process: naks waiting out their delay, redriven
 * dead letters, and deliveries whose outcome failed to commit. Each waits on its own timer
 * and becomes due; the group hands out due retries before it reads further in the log.
 * The durable record is the `retries` rows, which the schedule is rebuilt from on start.
 */
export class SqliteRetrySchedule {
  private readonly retries = new Map<number, ScheduledRetry>();
  /** Seqs handed out again from the schedule whose delivery has not ended yet. */
  private readonly redelivering = new Set<number>();
  private readonly due = new Set<number>();
  private closed = false;

  constructor(
    private readonly group: string,
    private readonly database: SqliteDatabase,
    private readonly clock: Clock,
    private readonly pins: SqliteOffsetPins,
    /** A retry became due: the group hands it out if it has room. */
    private readonly onDue: () => void,
  ) {}

  /** Schedules the retries and redrives the rows left open (by an earlier run, or a stop). */
  resumeOpen(): void {
    const open = this.database
      .statement<[string], { seq: number; attempts: number; not_before: number }>(
        SELECT_OPEN_RETRIES,
      )
      .all(this.group);
    for (const retry of open)
      this.schedule(retry.seq, retry.attempts, retry.not_before - this.clock.now());
  }

  /** Dead letters another process redrove: scheduled now unless already on their way. */
  adoptRedrives(): void {
    const redrives = this.database
      .statement<[string], { seq: number; attempts: number }>(SELECT_REDRIVES)
      .all(this.group);
    for (const { seq, attempts } of redrives) {
      if (!this.retries.has(seq) && !this.redelivering.has(seq)) this.schedule(seq, attempts, 0);
    }
  }

  /** Schedules a redelivery with attempt `attempts + 1` after `delayMs`. */
  schedule(seq: number, attempts: number, delayMs: number, pinned = false): void {
    if (this.closed) return;
    const previous = this.retries.get(seq);
    if (previous?.timer) clearTimeout(previous.timer);
    this.due.delete(seq);
    const entry: ScheduledRetry = {
      attempts,
      // A pin is never dropped with the entry that held it: its seq would stay held forever.
      pinned: pinned || (previous !== undefined && this.pins.holds(previous)),
      epoch: this.pins.epoch,
    };
    this.retries.set(seq, entry);
    if (delayMs <= 0) {
      this.due.add(seq);
      this.onDue();
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.due.add(seq);
      this.onDue();
    }, delayMs);
    entry.timer.unref();
  }

  /** The next due retry, its event read again from the log; an event gone gives up its pin. */
  nextDue(): Handout | undefined {
    for (const seq of this.due) {
      this.due.delete(seq);
      const retry = this.retries.get(seq);
      this.retries.delete(seq);
      if (!retry) continue;
      const pinned = this.pins.holds(retry);
      const row = this.database.statement<[number], EventRow>(EVENT_BY_SEQ).get(seq);
      if (!row) {
        this.pins.release(seq, retry);
        continue;
      }
      this.redelivering.add(seq);
      return {
        event: toLogEvent(row),
        attempt: retry.attempts + 1,
        fresh: false,
        pinned,
        epoch: this.pins.epoch,
      };
    }
    return undefined;
  }

  /** The delivery of `seq` ended, its outcome recorded or not. */
  ended(seq: number): void {
    this.redelivering.delete(seq);
  }

  close(): void {
    this.closed = true;
    for (const retry of this.retries.values()) if (retry.timer) clearTimeout(retry.timer);
    this.retries.clear();
    this.due.clear();
  }
}

import type { Clock } from '../../ports/clock.js';
import type { ConsumerSpec, Delivery, Subscription } from '../../ports/event-log.js';
import { reportBackgroundError, type SqliteDatabase } from './sqlite-database.js';
import {
  ackOutcome,
  nakOutcome,
  termOutcome,
  type Handout,
  type Outcome,
} from './sqlite-delivery-outcome.js';
import { SqliteGroupOffset } from './sqlite-group-offset.js';
import { SqliteOffsetPins } from './sqlite-offset-pins.js';
import { SqliteReadCursor } from './sqlite-read-cursor.js';
import { SqliteRetrySchedule } from './sqlite-retry-schedule.js';

/** A delivery whose outcome could not be written is handed out again after this long. */
const REDELIVER_AFTER_FAILED_WRITE_MS = 500;

interface Subscriber {
  readonly maxInFlight: number;
  readonly deliver: (delivery: Delivery) => void;
}

/**
 * One consumer group in this process: it hands out deliveries (due retries first, then the
 * log past its read cursor) and settles their outcomes. Durable state is the offset (every
 * seq at or below it is finished) and the retries / dead_letters rows; the rest is rebuilt
 * from them on start, which is why everything above the offset is delivered again after a
 * restart.
 *
 * The offset never passes an event before its outcome is durable: a delivery counts as
 * outstanding until the write of its retry or dead letter has committed, and when that
 * write fails (a read-only or full file) the event is handed out again later, its seq still
 * holding the offset back, also across a stop.
 */
export class SqliteConsumerGroup {
  private readonly recorded: SqliteGroupOffset;
  private readonly cursor: SqliteReadCursor;
  private readonly pins = new SqliteOffsetPins();
  private readonly retries: SqliteRetrySchedule;
  private outstanding = 0;
  private subscriber: Subscriber | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Termed events kept as retries while the dead-letter queue is full: seq → attempts. */
  private readonly awaitingRoom = new Map<number, number>();
  private pumping = false;
  private pumpAgain = false;

  constructor(
    readonly name: string,
    private readonly database: SqliteDatabase,
    private readonly clock: Clock,
    /** The highest seq known appended: no read of the log while the cursor has scanned it. */
    latestSeq: () => number,
    /** Dead letters the group may hold (`RetentionPolicy.deadLettersPerGroup`); none: no limit. */
    private readonly deadLetterLimit?: number,
  ) {
    this.recorded = new SqliteGroupOffset(name, database, () => ({
      offset: this.offset,
      types: this.cursor.typeFilter,
    }));
    this.cursor = new SqliteReadCursor(database, this.recorded.stored, latestSeq);
    this.retries = new SqliteRetrySchedule(name, database, clock, this.pins, () => this.pump());
    this.retries.resumeOpen();
  }

  get inFlight(): number {
    return this.outstanding;
  }

  /** Last seq handed out: `lag` counts matching events after it. */
  get position(): number {
    return this.cursor.position;
  }

  get typeFilter(): string {
    return this.cursor.typeFilter;
  }

  /** Every seq at or below this one is finished for the group. */
  get offset(): number {
    return this.pins.offset(this.cursor.handedOutThrough);
  }

  isHandedOut(seq: number): boolean {
    return this.pins.has(seq);
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
    // A new group that wants only what comes from now on: everything before is finished.
    if (spec.startAt === 'now' && this.recorded.isNew && this.cursor.position === 0)
      this.cursor.moveToEnd();
    this.cursor.filter(spec.types);
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
          const next = this.retries.nextDue() ?? this.nextFresh();
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
  scheduleRetry(seq: number, attempts: number, delayMs: number): void {
    this.retries.schedule(seq, attempts, delayMs);
  }

  /**
   * Moves the group back so that `seq` is the next event it is handed from the log. Never
   * past an unfinished delivery: those are handed out again rather than risk losing them.
   */
  rewind(seq: number): void {
    if (seq - 1 >= this.cursor.position) return;
    const to = Math.max(0, Math.min(seq - 1, this.offset));
    this.pins.replay();
    this.cursor.moveTo(to);
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
    this.retries.adoptRedrives();
  }

  /**
   * A dead letter of the group was redriven or discarded here: the events termed while its
   * dead-letter queue was full are tried again now rather than when their wait is over.
   */
  roomInDeadLetters(): void {
    for (const [seq, attempts] of this.awaitingRoom) this.retries.schedule(seq, attempts, 0);
    this.awaitingRoom.clear();
  }

  /** Records the offset (and the group's types) in the next group commit. */
  persist(): Promise<void> {
    return this.recorded.write();
  }

  close(): void {
    this.subscriber = undefined;
    this.recorded.close();
    this.retries.close();
    this.wakeIdleWaiters();
  }

  private async stop(subscriber: Subscriber): Promise<void> {
    if (this.subscriber === subscriber) this.subscriber = undefined;
    if (this.outstanding > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.persist().catch(reportBackgroundError);
  }

  private nextFresh(): Handout | undefined {
    const event = this.cursor.next();
    if (!event) return undefined;
    this.pins.pin(event.seq);
    return { event, attempt: 1, fresh: true, pinned: true, epoch: this.pins.epoch };
  }

  private hand(subscriber: Subscriber, handout: Handout): void {
    this.outstanding += 1;
    // On its way again: a discard meanwhile must not schedule a second delivery of it.
    this.awaitingRoom.delete(handout.event.seq);
    let ended = false;
    const end = (outcome: Outcome): void => {
      if (ended) return;
      ended = true;
      if (!outcome.write) {
        this.settled(handout, outcome);
        return;
      }
      this.database.write(outcome.write).then(
        (roomWaitMs) => {
          if (roomWaitMs === undefined) this.settled(handout, outcome);
          else this.waitForRoom(handout, roomWaitMs);
        },
        (error: unknown) => this.unrecorded(handout, outcome, error),
      );
    };
    const delivery: Delivery = {
      event: handout.event,
      attempt: handout.attempt,
      ack: () => end(ackOutcome(this.name, handout)),
      nak: (delayMs, error) =>
        end(nakOutcome(this.name, handout, delayMs, error, this.clock.now())),
      term: (reason) =>
        end(termOutcome(this.name, handout, reason, this.clock.now(), this.deadLetterLimit)),
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
    this.retries.ended(seq);
    this.pins.release(seq, handout);
    if (outcome.retryInMs !== undefined)
      this.retries.schedule(seq, handout.attempt, outcome.retryInMs);
    this.delivered();
  }

  /** A term found the dead-letter queue full and was recorded as a retry after `delayMs`. */
  private waitForRoom(handout: Handout, delayMs: number): void {
    this.settled(handout, { retryInMs: delayMs });
    this.awaitingRoom.set(handout.event.seq, handout.attempt);
  }

  /** The outcome did not commit: the event is handed out again, its pin kept. */
  private unrecorded(handout: Handout, outcome: Outcome, error: unknown): void {
    reportBackgroundError(error);
    this.outstanding -= 1;
    this.retries.ended(handout.event.seq);
    const delay = Math.max(outcome.retryInMs ?? 0, REDELIVER_AFTER_FAILED_WRITE_MS);
    this.retries.schedule(handout.event.seq, handout.attempt, delay, this.pins.holds(handout));
    this.delivered();
  }

  private delivered(): void {
    this.pump();
    if (this.outstanding === 0) this.wakeIdleWaiters();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

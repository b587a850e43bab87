/**
 * The event log: an append-only, durable sequence of events that independent consumer
 * groups read at their own pace, at least once each. It is the bus, the fan-out, the
 * replay and the dead-letter queue in one.
 *
 * Deliberately left out: connections, transactions and partitions. An adapter owns its
 * connections; ordering per key is the consumer runner's job (it serializes deliveries
 * that share a key), so the log only promises delivery in append order per group.
 */
export interface EventLog {
  /**
   * Appends events durably. Resolves once they are durable (for a group-committing
   * adapter: once the batch they joined has committed). An event whose `id` is already
   * in the log is dropped silently: publishing a fact twice publishes it once.
   */
  append(events: readonly NewEvent[]): Promise<void>;

  /**
   * Starts delivering the events of `types` to consumer group `group`, from where the
   * group left off (a new group starts at the beginning of the log). At most
   * `maxInFlight` deliveries are outstanding at once; a delivery is outstanding until it
   * is acked, nakked or termed. New appends wake the consumer at once.
   */
  consume(spec: ConsumerSpec, deliver: (delivery: Delivery) => void): Subscription;

  /**
   * Dead letters, oldest first (by when they were dead-lettered), those `query` asks for:
   * filtered and paged in the log, so that a large DLQ is never read whole.
   */
  deadLetters(query: DeadLetterQuery): Promise<DeadLetter[]>;

  /**
   * Delivers a dead letter to its group once more, with a fresh set of attempts: its next
   * delivery is attempt 1, so the consumer retries it as it would a new event instead of
   * dead-lettering it again after one failure. False when there is no such letter.
   */
  redrive(deadLetterId: string): Promise<boolean>;

  /**
   * Removes a dead letter for good (an operator decided it needs nothing more); the event
   * stays in the log and its group's outcome stays `dead`. False when there is no such letter.
   */
  discard(deadLetterId: string): Promise<boolean>;

  /**
   * Re-delivers to one group every event from `from` on; other groups are not disturbed.
   * Consumers are idempotent, so a replay changes nothing it already did. Resolves to the
   * range asked for: from its first seq through the last seq in the log at the call.
   */
  replay(group: string, from: ReplayFrom): Promise<ReplayRange>;

  /**
   * How far a group has got: every event at or below this seq has been handled by it
   * (acked, dead-lettered, or not of its types; one waiting out a retry may count either
   * way). Read from the log, so that any process can follow a group consumed in another (a
   * replay's progress). Undefined for a group the log does not know.
   */
  finishedThrough(group: string): Promise<number | undefined>;

  /** Per group: events not yet delivered, deliveries outstanding, dead letters. */
  stats(): Promise<Record<string, GroupStats>>;

  /** Every event with this key, in log order, with each group's outcome for it. */
  trace(key: string): Promise<EventTrace[]>;

  /**
   * Applies the log's retention (the `RetentionPolicy` it was opened with): events older
   * than `logMs` that every consumer group has settled and that are not dead-lettered are
   * removed and their space given back, a small batch at a time so that appends never wait
   * long behind it. A group that has not settled an event (stopped, lagging, retrying it)
   * keeps it and every later one, however old. Run on a schedule by one process at a time;
   * resolves to the events this call removed (a log whose engine removes them itself, on
   * limits this call keeps right, counts 0).
   */
  applyRetention(): Promise<number>;

  /** True while the log can take appends. */
  ping(): Promise<boolean>;

  close(): Promise<void>;
}

export interface NewEvent {
  /** Deduplication id: the same id is stored once. */
  readonly id: string;
  readonly type: string;
  /** Ordering key (an order id): the runner never handles two events of one key at once. */
  readonly key: string;
  readonly data: unknown;
  /**
   * Context carried with the event across processes and redeliveries: the W3C trace
   * context (`traceparent`, `tracestate`) of the step that emitted it, so that whoever
   * handles the event continues that trace. Lower-case header names, header-safe values;
   * a log stores them with the event and hands them back on every delivery of it (a retry,
   * a dead letter, a redrive, a replay). Omitted: nothing to carry.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LogEvent extends NewEvent {
  /** Position in the log, increasing. */
  readonly seq: number;
  /** When it was appended, ms since the epoch. */
  readonly at: number;
}

export interface ConsumerSpec {
  readonly group: string;
  readonly types: readonly string[];
  readonly maxInFlight: number;
  /**
   * The most attempts the consumer makes of one event before it terms it itself (omitted:
   * no bound). A log that limits deliveries on its own must allow at least this many: the
   * consumer, not the log, decides when an event is dead-lettered, and no event is dropped.
   */
  readonly maxAttempts?: number;
  /**
   * Where a group that does not exist yet starts: `beginning` (the default: every event in
   * the log) or `now` (only events appended from its creation on). A group that exists
   * goes on from where it left off, whatever this says.
   */
  readonly startAt?: StartAt;
}

export type StartAt = 'beginning' | 'now';

/** One delivery of one event to one group. Exactly one of ack, nak and term ends it. */
export interface Delivery {
  readonly event: LogEvent;
  /** 1 on first delivery, then one more per redelivery. */
  readonly attempt: number;
  /** Done: the group will not see this event again (unless replayed). */
  ack(): void;
  /** Not done: deliver again after `delayMs`; `error` is kept as the last error. */
  nak(delayMs: number, error?: string): void;
  /** Never retry: the event goes to the group's dead-letter queue with `reason`. */
  term(reason: string): void;
  /** Still working: a long step tells the log not to redeliver yet. */
  working(): void;
}

export interface Subscription {
  /** Stops new deliveries and resolves when every outstanding one has ended. */
  stop(): Promise<void>;
}

export type ReplayFrom = { readonly seq: number } | { readonly time: number };

/** What a replay covers: `from` (at least 1) through `through`; empty when from > through. */
export interface ReplayRange {
  readonly from: number;
  readonly through: number;
}

/** Which dead letters `deadLetters` answers. */
export interface DeadLetterQuery {
  /** Only this group's. */
  readonly group?: string;
  /** Only those whose last error contains this text (case-sensitive). */
  readonly errorContains?: string;
  /**
   * Only those after this letter in the list (the last of the previous page), also when it
   * is gone since (redriven or discarded): its `id` and `at` say where it stood.
   */
  readonly after?: Pick<DeadLetter, 'id' | 'at'>;
  readonly limit: number;
}

export interface DeadLetter {
  readonly id: string;
  readonly group: string;
  readonly event: LogEvent;
  readonly attempts: number;
  readonly lastError: string;
  /** When it was dead-lettered, ms since the epoch. */
  readonly at: number;
}

export interface GroupStats {
  /** Events appended that the group has not been handed yet. */
  readonly lag: number;
  readonly inFlight: number;
  readonly dlq: number;
}

export interface EventTrace {
  readonly event: LogEvent;
  readonly outcomes: Record<string, DeliveryOutcome>;
}

export interface DeliveryOutcome {
  readonly state: 'pending' | 'acked' | 'retrying' | 'dead';
  readonly attempts: number;
  readonly lastError?: string;
}

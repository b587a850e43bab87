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

  /** Dead letters of every group, oldest first. */
  deadLetters(limit: number): Promise<DeadLetter[]>;

  /** Delivers a dead letter to its group once more; false when there is no such letter. */
  redrive(deadLetterId: string): Promise<boolean>;

  /**
   * Removes a dead letter for good (an operator decided it needs nothing more); the event
   * stays in the log and its group's outcome stays `dead`. False when there is no such letter.
   */
  discard(deadLetterId: string): Promise<boolean>;

  /**
   * Re-delivers to one group every event from `from` on; other groups are not disturbed.
   * Consumers are idempotent, so a replay changes nothing it already did.
   */
  replay(group: string, from: ReplayFrom): Promise<void>;

  /** Per group: events not yet delivered, deliveries outstanding, dead letters. */
  stats(): Promise<Record<string, GroupStats>>;

  /** Every event with this key, in log order, with each group's outcome for it. */
  trace(key: string): Promise<EventTrace[]>;

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

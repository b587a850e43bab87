/**
 * How long the hot stores keep what they no longer need: the log its events, the order
 * cache its finished orders, and how many dead letters a consumer group may pile up. The
 * source of truth keeps every order for good; these bound the caches and the log.
 */
export interface RetentionPolicy {
  /**
   * Events older than this (ms), settled by every consumer group and not dead-lettered,
   * are removed: the replay window (`ORDERFLOW_LOG_RETENTION`, 7 days; 0 = keep every event).
   * A group that has not settled an event keeps it, however old.
   */
  readonly logMs: number;
  /**
   * A terminal order leaves the order cache this long (ms) after the source of truth holds
   * it in that status (`ORDERFLOW_ORDER_RETENTION`, 30 days; 0 = keep every order); reads
   * then answer from the source of truth. Finished stock reservations go with it.
   */
  readonly orderMs: number;
  /**
   * Dead letters one consumer group may hold (`ORDERFLOW_DLQ_LIMIT`, 10,000). Past it the
   * group's failing events are not dead-lettered (and never dropped): they stay in the log
   * and are retried until an operator makes room by redriving or discarding letters.
   */
  readonly deadLettersPerGroup: number;
  /**
   * The most bytes the log may hold (`ORDERFLOW_LOG_MAX_BYTES`, 0 = no bound): where the
   * engine enforces it (JetStream), a full log refuses appends rather than drop events.
   */
  readonly logMaxBytes: number;
}

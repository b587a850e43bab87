/** Whether a delivery or scheduled retry holds its seq's pin: only in the epoch it was taken in. */
export interface PinClaim {
  readonly pinned: boolean;
  readonly epoch: number;
}

/**
 * The seqs that hold a consumer group's offset back, in memory: events read from the log
 * whose outcome has not committed yet (handed out, being recorded, or waiting to be handed
 * out again after a failed write). The offset stays below the first of them, so it never
 * passes an event before its outcome is durable; `SqliteGroupOffset` writes what this
 * computes.
 *
 * A replay starts a new epoch and drops every pin: the seqs after the replay point are read
 * from the log again and pinned anew, and a delivery from before it must not release a pin
 * it no longer holds.
 */
export class SqliteOffsetPins {
  /** Ascending: seqs are pinned in the order the log hands them out. */
  private seqs = new Set<number>();
  private current = 0;

  get epoch(): number {
    return this.current;
  }

  /** A seq read from the log and handed out: held until its outcome committed. */
  pin(seq: number): void {
    this.seqs.add(seq);
  }

  holds(claim: PinClaim): boolean {
    return claim.pinned && claim.epoch === this.current;
  }

  /** The outcome of `seq` is durable (or its event is gone): its pin, if `claim` holds it, goes. */
  release(seq: number, claim: PinClaim): void {
    if (this.holds(claim)) this.seqs.delete(seq);
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  /** A replay: the pins of earlier deliveries are dropped with their epoch. */
  replay(): void {
    this.current += 1;
    this.seqs = new Set();
  }

  /**
   * Every seq at or below this one is finished: just below the first pin, or else all that
   * the read cursor handed out (`handedOutThrough`).
   */
  offset(handedOutThrough: number): number {
    const first = this.seqs.values().next();
    return first.done ? handedOutThrough : first.value - 1;
  }
}

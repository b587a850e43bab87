/** A delivery in the runner's hands; closing the log hands it back unfinished. */
export interface OutstandingDelivery {
  handBack(): void;
}

/**
 * The deliveries handed to the runner and not ended yet (acked, nakked, termed or handed
 * back): each holds one of the subscription's `maxInFlight` slots, and `stop()` resolves
 * only once there are none.
 */
export class OutstandingDeliveries {
  private readonly open = new Set<OutstandingDelivery>();
  private idleWaiters: (() => void)[] = [];

  get count(): number {
    return this.open.size;
  }

  add(delivery: OutstandingDelivery): void {
    this.open.add(delivery);
  }

  has(delivery: OutstandingDelivery): boolean {
    return this.open.has(delivery);
  }

  /** Ends it; false when it had ended already (only the first verdict counts). */
  end(delivery: OutstandingDelivery): boolean {
    if (!this.open.delete(delivery)) return false;
    if (this.open.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
    return true;
  }

  /** Closing: every one goes back to the server for prompt redelivery elsewhere. */
  handBackAll(): void {
    for (const delivery of [...this.open]) delivery.handBack();
  }

  /** Resolves once none is outstanding. */
  idle(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

const FIRST_MS = 100;
const CAP_MS = 2_000;

/**
 * The pause after a pull that failed or came back empty at once (the consumer gone, the
 * server busy), so that a subscription does not spin against a server that cannot serve
 * it: 100 ms, doubling up to 2 s, back to the shortest once a pull goes well.
 */
export class PullBackoff {
  private delayMs = 0;
  private timer: NodeJS.Timeout | undefined;

  /** True while a retry is scheduled: no pull starts before it. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** Calls `retry` after the next, longer delay; nothing more while one is scheduled. */
  schedule(retry: () => void): void {
    if (this.timer) return;
    this.delayMs = Math.min(CAP_MS, Math.max(FIRST_MS, this.delayMs * 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      retry();
    }, this.delayMs);
    this.timer.unref();
  }

  /** A pull went well: the next failure waits the shortest delay again. */
  reset(): void {
    this.delayMs = 0;
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

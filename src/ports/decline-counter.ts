/** The window the card-testing defence counts declines over. */
export const DECLINE_WINDOW_MS = 3_600_000;

/**
 * Counts of declined payments per key (a customer, a payment method, a card, an IP) over a
 * sliding window, shared by every process: the saga counts where it runs, the intake checks
 * where it answers (the card-testing defence). A count is a hint for a limit, not money:
 * a decline counted twice after a crash errs on the safe side.
 */
export interface DeclineCounter {
  /** Counts one decline under each key, now. */
  add(keys: readonly string[]): Promise<void>;
  /** The declines of each key within the window, in the order of `keys`. */
  counts(keys: readonly string[]): Promise<readonly number[]>;

  close(): Promise<void>;
}

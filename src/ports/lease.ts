/**
 * A named lease: one holder at a time among any number of processes. The schedules run in
 * the holder of one lease; each sync run holds another for as long as it runs, so that no
 * two runs overlap anywhere. The holder renews it well within its TTL; when the holder
 * dies, the lease lapses and another process takes it over.
 *
 * A holder paused past its TTL (a long GC, a stopped VM) wakes up believing it still holds
 * the lease: its fencing token tells its late writes apart. Whenever the lease changes
 * hands, the new holder's token is larger than every token handed out before (a renewal
 * keeps it), so a store written under the lease can refuse a token older than the newest
 * it has seen (see `StockStore.reconcile`).
 */
export interface Lease {
  /**
   * Takes the lease `name` for `holder`, or renews it if `holder` has it, for `ttlMs`.
   * Resolves to the holder's fencing token (a positive integer) while `holder` holds it,
   * undefined while another does.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<number | undefined>;

  /** Gives the lease up if `holder` has it, so another process need not wait out the TTL. */
  release(name: string, holder: string): Promise<void>;
}

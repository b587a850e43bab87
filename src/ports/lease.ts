/**
 * A named lease: the schedules (sync-in, sync-out, reservation expiry) run in one process
 * of many, the holder of the lease. The holder renews it well within its TTL; when the
 * holder dies, the lease lapses and another process takes it over.
 */
export interface Lease {
  /**
   * Takes the lease `name` for `holder`, or renews it if `holder` has it, for `ttlMs`.
   * Resolves to true while `holder` holds it, false while another does.
   */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;

  /** Gives the lease up if `holder` has it, so another process need not wait out the TTL. */
  release(name: string, holder: string): Promise<void>;
}

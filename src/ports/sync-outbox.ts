/**
 * Terminal order statuses waiting to be written to the source of truth. Entries are
 * keyed by (order, status), so a COMPLETED order later REFUNDED is synced twice, once
 * per status, and taking a batch never loses a status added meanwhile.
 *
 * It also keeps when a sync-out pass last succeeded, beside the backlog it empties: every
 * process reads the same figure (an `api` process shows the last sync of the process that
 * runs the schedules), and it survives restarts.
 */
export interface SyncOutbox {
  /** Adds an entry; adding it twice keeps one. */
  add(orderId: string, status: string): Promise<void>;
  /** Up to `limit` entries, oldest first; they stay until `done`. */
  take(limit: number): Promise<SyncEntry[]>;
  /** Removes entries that the source of truth now holds. */
  done(entries: readonly SyncEntry[]): Promise<void>;
  /** How many entries wait. */
  size(): Promise<number>;
  /**
   * Records that a sync-out pass succeeded at `at` (epoch ms), an empty one included. Only
   * a later time replaces the one kept: processes whose clocks differ a little never move
   * it back.
   */
  markSynced(at: number): Promise<void>;
  /** The latest time `markSynced` recorded (epoch ms); undefined when no pass ever succeeded. */
  lastSyncedAt(): Promise<number | undefined>;
}

export interface SyncEntry {
  readonly orderId: string;
  readonly status: string;
}

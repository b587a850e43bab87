/**
 * Terminal order statuses waiting to be written to the source of truth. Entries are
 * keyed by (order, status), so a COMPLETED order later REFUNDED is synced twice, once
 * per status, and taking a batch never loses a status added meanwhile.
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
}

export interface SyncEntry {
  readonly orderId: string;
  readonly status: string;
}

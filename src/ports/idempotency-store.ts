/**
 * Idempotency keys of API requests (the Stripe / IETF draft semantics) and the ledger
 * of side effects done once (an email sent, points credited). Records expire after their
 * TTL.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` in `scope` for a request whose body hashes to `fingerprint`: `started`
   * for the first caller, `in_flight` while that one is running, `mismatch` for another
   * body, `replay` with the stored response once it completed.
   */
  begin(scope: string, key: string, fingerprint: string, ttlMs: number): Promise<IdempotencyClaim>;

  /** Stores the response of a claimed key for replay. */
  complete(scope: string, key: string, response: StoredResponse): Promise<void>;

  /** Frees a claimed key when the request failed before it changed anything. */
  abandon(scope: string, key: string): Promise<void>;

  /** Whether the effect `key` was recorded as done. */
  wasDone(key: string): Promise<boolean>;

  /** Records the effect `key` as done (idempotent). */
  markDone(key: string): Promise<void>;

  close(): Promise<void>;
}

export type IdempotencyClaim =
  | { readonly state: 'started' }
  | { readonly state: 'in_flight' }
  | { readonly state: 'mismatch' }
  | { readonly state: 'replay'; readonly response: StoredResponse };

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
}

/**
 * Idempotency keys of API requests (the Stripe / IETF draft semantics) and the ledger
 * of side effects done once (an email sent, points credited). Records expire after their
 * TTL.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` in `scope` for a request whose body hashes to `fingerprint` and that will
   * create `ref` (an order id): `started` for the first caller, `in_flight` while that one
   * is running, `mismatch` for another body, `replay` with the stored response once it
   * completed, and `resume` with the first attempt's ref when that attempt ended without an
   * answer (it failed, or its process died and its claim lapsed): the caller then owns the
   * key and finishes what `ref` names, so an ambiguous failure never becomes two orders.
   */
  begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlMs: number,
    ref: string,
  ): Promise<IdempotencyClaim>;

  /**
   * Binds a claimed key to another ref: the attempt resumed found its ref dead for good (an
   * abandoned order) and creates a new one; a later resume finishes that one.
   */
  rebind(scope: string, key: string, ref: string): Promise<void>;

  /** Stores the response of a claimed key for replay. */
  complete(scope: string, key: string, response: StoredResponse): Promise<void>;

  /**
   * The claimed request failed: the key stays bound to its ref, and the next request with
   * it resumes that ref (see `begin`).
   */
  abandon(scope: string, key: string): Promise<void>;

  /**
   * Frees a claimed key whose request was refused before it changed anything (a 4xx): the
   * next request with it starts afresh, with any body.
   */
  release(scope: string, key: string): Promise<void>;

  /** Whether the effect `key` was recorded as done. */
  wasDone(key: string): Promise<boolean>;

  /** Records the effect `key` as done (idempotent). */
  markDone(key: string): Promise<void>;

  close(): Promise<void>;
}

export type IdempotencyClaim =
  | { readonly state: 'started' }
  | { readonly state: 'resume'; readonly ref: string }
  | { readonly state: 'in_flight' }
  | { readonly state: 'mismatch' }
  | { readonly state: 'replay'; readonly response: StoredResponse };

export interface StoredResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
}

import { hash } from 'node:crypto';
import { ApiError } from '../domain/errors.js';
import type { IdempotencyStore, StoredResponse } from '../ports/idempotency-store.js';

/** How long a key and its answer are kept (Stripe keeps them 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** JSON with object keys sorted at every depth: equal bodies give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical JSON of a validated body. */
export function fingerprint(body: unknown): string {
  return hash('sha256', canonicalJson(body), 'hex');
}

export interface IdempotentResult {
  readonly response: StoredResponse;
  /** True when the answer is a stored one (`Idempotent-Replayed: true`). */
  readonly replayed: boolean;
}

/**
 * Runs `perform` at most once per (scope, key), with the Stripe / IETF draft semantics:
 * a request still running answers `409 idempotency_key_in_use`, the same key with another
 * body `422 idempotency_key_reused`, a completed one its stored answer. `perform` gets
 * `record`, which it must call in the same tick as its own write so that both land in
 * one group commit; if `perform` fails the key is freed for a retry.
 */
export async function runIdempotent(
  store: IdempotencyStore,
  scope: string,
  key: string,
  body: unknown,
  perform: (record: (response: StoredResponse) => Promise<void>) => Promise<StoredResponse>,
  onAbandonFailed: (error: unknown) => void,
): Promise<IdempotentResult> {
  const claim = await store.begin(scope, key, fingerprint(body), IDEMPOTENCY_TTL_MS);
  switch (claim.state) {
    case 'in_flight':
      throw new ApiError(
        'idempotency_key_in_use',
        'a request with this Idempotency-Key is still being processed',
        undefined,
        1,
      );
    case 'mismatch':
      throw new ApiError(
        'idempotency_key_reused',
        'this Idempotency-Key was used with a different body',
      );
    case 'replay':
      return { response: claim.response, replayed: true };
    case 'started':
      break;
  }
  try {
    const response = await perform((stored) => store.complete(scope, key, stored));
    return { response, replayed: false };
  } catch (error) {
    // The answer is the original error; a key we could not free stays in flight until
    // the store expires it.
    await store.abandon(scope, key).catch(onAbandonFailed);
    throw error;
  }
}

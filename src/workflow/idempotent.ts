import { hash } from 'node:crypto';
import { RetryableError, TerminalError } from '../domain/errors.js';
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

/** One attempt of a keyed request, as `perform` is given it. */
export interface IdempotentAttempt {
  /** What this attempt creates: the one bound to the key, also on a resume. */
  readonly ref: string;
  /** An earlier attempt with this key ended without an answer: finish its `ref`. */
  readonly resume: boolean;
  /** Stores the answer for replays (see `Intake.place` for when to call it). */
  readonly record: (response: StoredResponse) => Promise<void>;
  /** Binds the key to a new ref, when the one resumed is dead for good. */
  readonly rebind: (ref: string) => Promise<void>;
}

/**
 * Runs `perform` at most once per (scope, key), with the Stripe / IETF draft semantics:
 * a request still running answers `409 idempotency_key_in_use`, the same key with another
 * body `422 idempotency_key_reused`, a completed one its stored answer. The key is bound
 * to `ref` (the order id it creates) for its whole TTL: when an attempt fails — also
 * ambiguously, a publish that may have landed — the next request with the key resumes the
 * same ref, so a retry never makes a second order.
 */
export async function runIdempotent(
  store: IdempotencyStore,
  scope: string,
  key: string,
  body: unknown,
  ref: string,
  perform: (attempt: IdempotentAttempt) => Promise<StoredResponse>,
  onAbandonFailed: (error: unknown) => void,
): Promise<IdempotentResult> {
  const claim = await store.begin(scope, key, fingerprint(body), IDEMPOTENCY_TTL_MS, ref);
  switch (claim.state) {
    case 'in_flight':
      throw new RetryableError(
        'idempotency_key_in_use',
        'a request with this Idempotency-Key is still being processed',
        1000,
      );
    case 'mismatch':
      throw new TerminalError(
        'idempotency_key_reused',
        'this Idempotency-Key was used with a different body',
      );
    case 'replay':
      return { response: claim.response, replayed: true };
    case 'started':
    case 'resume':
      break;
  }
  try {
    const response = await perform({
      ref: claim.state === 'resume' ? claim.ref : ref,
      resume: claim.state === 'resume',
      record: (stored) => store.complete(scope, key, stored),
      rebind: (next) => store.rebind(scope, key, next),
    });
    return { response, replayed: false };
  } catch (error) {
    // A refusal (a TerminalError of the use case: an unknown SKU, too many declines)
    // changed nothing: the key is free again. Anything else may have written (a publish
    // that landed after all): the key stays bound to its ref. The answer is the original
    // error; a key we could not mark stays claimed until its claim lapses, and is then
    // resumed the same way.
    const refused = error instanceof TerminalError;
    await (refused ? store.release(scope, key) : store.abandon(scope, key)).catch(onAbandonFailed);
    throw error;
  }
}

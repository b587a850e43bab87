import Stripe from 'stripe';
import { RetryableError, TerminalError } from '../../domain/errors.js';

type StripeError = InstanceType<typeof Stripe.errors.StripeError>;

/**
 * A card the customer cannot pay with: a card error (HTTP 402, with the card's fingerprint
 * when the provider sent its payment method), or a payment method the provider does not
 * know. Undefined for every other failure.
 */
export function declineOf(
  error: unknown,
): { readonly reason: string; readonly cardFingerprint?: string } | undefined {
  if (error instanceof Stripe.errors.StripeCardError) {
    const fingerprint = error.payment_method?.card?.fingerprint;
    return fingerprint
      ? { reason: error.message, cardFingerprint: fingerprint }
      : { reason: error.message };
  }
  if (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    error.param === 'payment_method'
  ) {
    return { reason: error.message };
  }
  return undefined;
}

/** The provider refused an operation because of the PaymentIntent's status (cancel of a captured one). */
export function isUnexpectedState(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    error.code === 'payment_intent_unexpected_state'
  );
}

/**
 * What the workflow makes of a provider failure: a lost connection, a timeout, a rate
 * limit, a 5xx or a request with the same key still in flight (409) is retried later with
 * the same key (after Retry-After when the provider sent one); a refusal (a bad key, a
 * request the provider rejects) needs an operator, so it is terminal.
 */
export function providerError(error: unknown, what: string): Error {
  // Not the provider's answer (a bug, a malformed request): the runner's few retries, then the DLQ.
  if (!(error instanceof Stripe.errors.StripeError)) {
    return error instanceof Error ? error : new Error(`${what}: ${String(error)}`);
  }
  if (isTransient(error)) {
    return new RetryableError(
      'payment_provider_unavailable',
      `${what}: ${transientReason(error)}`,
      retryAfterMs(error),
      { cause: error },
    );
  }
  return new TerminalError(
    'payment_provider_rejected',
    `${what}: ${error.statusCode ?? '?'} ${error.type}: ${error.message}`,
    { cause: error },
  );
}

function isTransient(error: StripeError): boolean {
  if (error instanceof Stripe.errors.StripeConnectionError) return true;
  if (error instanceof Stripe.errors.StripeRateLimitError) return true;
  if (header(error, 'stripe-should-retry') === 'true') return true;
  const status = error.statusCode;
  return status === undefined || status === 409 || status >= 500;
}

function transientReason(error: StripeError): string {
  if (error instanceof Stripe.errors.StripeConnectionError) return error.message;
  if (error.statusCode === 409) return `a request with this key is in flight (${error.message})`;
  return `${error.statusCode ?? '?'} ${error.message}`;
}

/** A Retry-After beyond this is not believed: orders must still notice recovery and the give-up horizon. */
const MAX_RETRY_AFTER_MS = 60_000;

/** The provider's Retry-After (seconds or an HTTP date), in milliseconds. */
function retryAfterMs(error: StripeError): number | undefined {
  const value = header(error, 'retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.round(ms)));
}

function header(error: StripeError, name: string): string | undefined {
  const value: unknown = error.headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

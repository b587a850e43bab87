import Stripe from 'stripe';
import { RetryableError, TerminalError } from '../../domain/errors.js';
import type { Money } from '../../domain/money.js';
import type {
  CancelRequest,
  CancelResult,
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  PaymentLookup,
  PaymentOutcome,
  PaymentWebhooks,
  RefundRequest,
} from '../../ports/payment-gateway.js';
import { declineOf, isUnexpectedState, providerError } from './stripe-errors.js';

export interface StripePaymentsOptions {
  /** `https://api.stripe.com` or any Stripe-compatible origin (`http://127.0.0.1:12345`). */
  readonly url: string;
  readonly apiKey: string;
  /** `whsec_…`: without it, `verify` refuses every webhook (the service requires one). */
  readonly webhookSecret?: string | undefined;
  /**
   * Retries the SDK makes itself, with the same idempotency key, of a lost connection, a
   * 409 or a 5xx before the call fails as retryable (default 2).
   */
  readonly maxNetworkRetries?: number;
  /** Per request (default 30 s): a provider slower than that counts as lost. */
  readonly timeoutMs?: number;
}

/** A PaymentIntent the SDK answered, with the response headers it came with. */
type Answered = Stripe.Response<Stripe.PaymentIntent>;

/** How long a cancel of a PaymentIntent still `processing` is told to wait before asking again. */
const PROCESSING_RETRY_MS = 5_000;

/**
 * Stripe (or a Stripe-compatible API) through the official SDK. A charge is one
 * PaymentIntent created and confirmed in one call, under the request's idempotency key,
 * so a retried call is answered with the first call's result and never charges twice.
 */
export class StripePayments implements PaymentGateway, PaymentWebhooks {
  private readonly stripe: Stripe;
  private readonly webhookSecret: string | undefined;

  constructor(options: StripePaymentsOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`payments URL ${options.url}: only http and https are supported`);
    }
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    this.stripe = new Stripe(options.apiKey, {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
      protocol,
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      timeout: options.timeoutMs ?? 30_000,
      telemetry: false,
      appInfo: { name: 'orderflow' },
    });
    this.webhookSecret = options.webhookSecret;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    let intent: Answered;
    try {
      intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amount.amount,
          currency: request.amount.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          confirm: true,
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { order_id: request.orderId },
        },
        { idempotencyKey: request.idempotencyKey },
      );
    } catch (error) {
      const decline = declineOf(error);
      if (decline !== undefined) return { status: 'declined', ...decline };
      throw providerError(error, `charge ${request.orderId}`);
    }
    return this.result(intent, request.orderId);
  }

  async refund(request: RefundRequest): Promise<void> {
    try {
      await this.stripe.refunds.create(
        { payment_intent: request.paymentRef, metadata: { order_id: request.orderId } },
        { idempotencyKey: request.idempotencyKey },
      );
    } catch (error) {
      // Refunded in full already (by an earlier key, or by hand): the money is back.
      if (error instanceof Stripe.errors.StripeError && error.code === 'charge_already_refunded') {
        return;
      }
      throw providerError(error, `refund ${request.orderId}`);
    }
  }

  async cancel(request: CancelRequest): Promise<CancelResult> {
    const what = `cancel payment ${request.paymentRef} of ${request.orderId}`;
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.stripe.paymentIntents.cancel(
        request.paymentRef,
        { cancellation_reason: 'abandoned' },
        { idempotencyKey: request.idempotencyKey },
      );
    } catch (error) {
      // Not cancellable in its status (cancelled before, captured, processing): read which.
      if (!isUnexpectedState(error)) throw providerError(error, what);
      intent = await this.retrieve(request.paymentRef, request.orderId);
    }
    switch (intent.status) {
      case 'canceled':
        return { status: 'cancelled' };
      case 'succeeded':
        return { status: 'succeeded', paymentRef: intent.id, amount: captured(intent) };
      default:
        throw new RetryableError(
          'payment_provider_unavailable',
          `${what}: the payment is ${intent.status}; asking again later`,
          PROCESSING_RETRY_MS,
        );
    }
  }

  async find(orderId: string): Promise<PaymentLookup> {
    let intents: Stripe.PaymentIntent[];
    try {
      const page = await this.stripe.paymentIntents.search({
        query: `metadata['order_id']:'${orderId.replace(/[\\']/g, '\\$&')}'`,
        limit: 100,
      });
      intents = page.data.filter((intent) => intent.metadata.order_id === orderId);
    } catch (error) {
      throw providerError(error, `find the payments of ${orderId}`);
    }
    const paid = intents.find((intent) => intent.status === 'succeeded');
    if (paid) return { status: 'succeeded', paymentRef: paid.id, amount: captured(paid) };
    // A declined intent (`requires_payment_method`) is never confirmed again: it cannot capture.
    const open = intents.find(
      (intent) => intent.status !== 'canceled' && intent.status !== 'requires_payment_method',
    );
    return open ? { status: 'pending', paymentRef: open.id } : { status: 'none' };
  }

  verify(payload: Buffer, signature: string): PaymentOutcome | undefined {
    if (this.webhookSecret === undefined) {
      throw new TerminalError('invalid_signature', 'no webhook secret is configured');
    }
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(payload, signature, this.webhookSecret);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TerminalError('invalid_signature', `webhook not verified: ${reason}`, {
        cause: error,
      });
    }
    // Signed is not well formed: the SDK parses any JSON (`null`, `[]`) as the event.
    if (!isEventShaped(event)) {
      throw new TerminalError('validation_error', 'the webhook body is not a provider event');
    }
    switch (event.type) {
      case 'payment_intent.succeeded':
        return outcome(event.id, event.data.object, true);
      case 'payment_intent.payment_failed':
        return outcome(event.id, event.data.object, false);
      default:
        return undefined;
    }
  }

  /**
   * The provider replays the first answer for a key: an intent that was waiting for the
   * customer then may have completed since, so a replayed pending answer is read again.
   */
  private async result(intent: Answered, orderId: string): Promise<ChargeResult> {
    let current: Stripe.PaymentIntent = intent;
    if (isPending(intent) && intent.lastResponse.headers['idempotent-replayed'] === 'true') {
      current = await this.retrieve(intent.id, orderId);
    }
    switch (current.status) {
      case 'succeeded':
        return { status: 'succeeded', paymentRef: current.id };
      case 'requires_payment_method':
        return {
          status: 'declined',
          reason: current.last_payment_error?.message ?? 'the payment failed',
        };
      case 'canceled':
        return { status: 'cancelled' };
      default:
        // requires_action (3-D Secure), processing: the outcome comes as a webhook.
        return { status: 'pending', paymentRef: current.id };
    }
  }

  private async retrieve(intentId: string, orderId: string): Promise<Stripe.PaymentIntent> {
    try {
      return await this.stripe.paymentIntents.retrieve(intentId);
    } catch (error) {
      throw providerError(error, `read payment ${intentId} of ${orderId}`);
    }
  }
}

function isPending(intent: Stripe.PaymentIntent): boolean {
  return intent.status !== 'succeeded' && intent.status !== 'canceled';
}

/** What the intent captured, in orderflow's terms (Stripe writes currencies in lower case). */
function captured(intent: Stripe.PaymentIntent): Money {
  return { amount: intent.amount_received, currency: intent.currency.toUpperCase() };
}

function outcome(
  eventId: string,
  intent: Stripe.PaymentIntent,
  succeeded: boolean,
): PaymentOutcome | undefined {
  // Typed as always there; a signed event need not follow the types.
  const metadata = intent.metadata as Stripe.Metadata | null | undefined;
  const orderId = typeof metadata?.order_id === 'string' ? metadata.order_id : undefined;
  // Not a payment this service made (another integration on the same account).
  if (orderId === undefined || orderId === '') return undefined;
  const amount = eventAmount(eventId, intent, succeeded);
  if (succeeded) return { eventId, orderId, paymentRef: intent.id, succeeded, amount };
  return {
    eventId,
    orderId,
    paymentRef: intent.id,
    succeeded,
    amount,
    reason: intent.last_payment_error?.message ?? 'the payment failed',
  };
}

/**
 * The money of a verified event: captured (`amount_received`) when it succeeded, asked
 * (`amount`) when it failed. An event without it cannot be checked against its order.
 */
function eventAmount(eventId: string, intent: Stripe.PaymentIntent, succeeded: boolean): Money {
  const amount: unknown = succeeded ? intent.amount_received : intent.amount;
  const currency: unknown = intent.currency;
  if (
    typeof amount !== 'number' ||
    !Number.isSafeInteger(amount) ||
    amount < 0 ||
    typeof currency !== 'string' ||
    !/^[a-z]{3}$/i.test(currency)
  ) {
    throw new TerminalError(
      'validation_error',
      `event ${eventId}: the PaymentIntent has no valid ${succeeded ? 'amount_received' : 'amount'} and currency`,
    );
  }
  return { amount, currency: currency.toUpperCase() };
}

function isEventShaped(event: unknown): event is Stripe.Event {
  if (typeof event !== 'object' || event === null) return false;
  const { type, data } = event as { type?: unknown; data?: { object?: unknown } | null };
  return typeof type === 'string' && typeof data?.object === 'object' && data.object !== null;
}

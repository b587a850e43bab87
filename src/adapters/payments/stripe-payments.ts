import Stripe from 'stripe';
import { TerminalError } from '../../domain/errors.js';
import type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  PaymentOutcome,
  PaymentWebhooks,
  RefundRequest,
} from '../../ports/payment-gateway.js';
import { declineReason, providerError } from './stripe-errors.js';

export interface StripePaymentsOptions {
  /** `https://api.stripe.com` or any Stripe-compatible origin (`http://127.0.0.1:12345`). */
  readonly url: string;
  readonly apiKey: string;
  /** `whsec_…`: without it, `verify` refuses every webhook. */
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
      const reason = declineReason(error);
      if (reason !== undefined) return { status: 'declined', reason };
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
      try {
        current = await this.stripe.paymentIntents.retrieve(intent.id);
      } catch (error) {
        throw providerError(error, `read payment ${intent.id} of ${orderId}`);
      }
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
        return { status: 'declined', reason: 'the payment was canceled' };
      default:
        // requires_action (3-D Secure), processing: the outcome comes as a webhook.
        return { status: 'pending', paymentRef: current.id };
    }
  }
}

function isPending(intent: Stripe.PaymentIntent): boolean {
  return intent.status !== 'succeeded' && intent.status !== 'canceled';
}

function outcome(
  eventId: string,
  intent: Stripe.PaymentIntent,
  succeeded: boolean,
): PaymentOutcome | undefined {
  const orderId = intent.metadata.order_id;
  // Not a payment this service made (another integration on the same account).
  if (orderId === undefined || orderId === '') return undefined;
  if (succeeded) return { eventId, orderId, paymentRef: intent.id, succeeded };
  return {
    eventId,
    orderId,
    paymentRef: intent.id,
    succeeded,
    reason: intent.last_payment_error?.message ?? 'the payment failed',
  };
}

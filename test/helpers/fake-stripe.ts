/**
 * A Stripe-compatible HTTP server for tests (node:http, a real socket), with a ledger and
 * injected faults. It speaks what the official SDK sends: form-encoded bodies, Bearer
 * keys, `Idempotency-Key` with Stripe's semantics (the first answer for a key is stored
 * and replayed, `Idempotent-Replayed: true`; the same key while the first request is
 * still in flight → 409 `idempotency_error`; the same key with other parameters → 400).
 */
import { sleep } from './wait.js';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import type { OrderView } from './api.js';

export interface FakeStripeFaults {
  /** Share of charges (0–1) recorded and then answered by a destroyed socket. */
  loseAnswerAfterCharge: number;
  /** Share of refunds (0–1) recorded and then answered by a destroyed socket. */
  loseAnswerAfterRefund: number;
  /** Share of cancels (0–1) made and then answered by a destroyed socket. */
  loseAnswerAfterCancel: number;
  /** Share of requests (0–1) answered 429 with `Retry-After: rateLimitRetryAfterS`. */
  rateLimit: number;
  rateLimitRetryAfterS: number;
  /** Added to every request while it is handled (its idempotency key in flight). */
  latencyMs: number;
  /** Share of requests (0–1) whose socket is destroyed before anything is done. */
  resetConnection: number;
  /** `unavailable`: every request gets 503; `refuse`: no one listens on the port. */
  down: false | 'unavailable' | 'refuse';
}

export const NO_FAULTS: Readonly<FakeStripeFaults> = {
  loseAnswerAfterCharge: 0,
  loseAnswerAfterRefund: 0,
  loseAnswerAfterCancel: 0,
  rateLimit: 0,
  rateLimitRetryAfterS: 1,
  latencyMs: 0,
  resetConnection: 0,
  down: false,
};

/** What happened at the provider, counted; tests check that the faults really struck. */
export interface FakeStripeStats {
  requests: number;
  unavailable: number;
  resets: number;
  rateLimited: number;
  lostAnswers: number;
  replays: number;
  conflicts: number;
}

export interface FakePaymentIntent {
  readonly id: string;
  readonly object: 'payment_intent';
  readonly amount: number;
  amount_received: number;
  readonly currency: string;
  status:
    | 'requires_confirmation'
    | 'requires_action'
    | 'requires_payment_method'
    | 'succeeded'
    | 'canceled';
  readonly metadata: Record<string, string>;
  readonly payment_method: string;
  readonly capture_method: 'automatic';
  readonly confirmation_method: 'automatic';
  readonly client_secret: string;
  readonly created: number;
  readonly livemode: false;
  last_payment_error: StripeErrorBody | null;
  next_action: { type: 'use_stripe_sdk' } | null;
  latest_charge: string | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
}

export interface FakeRefund {
  readonly id: string;
  readonly object: 'refund';
  readonly amount: number;
  readonly currency: string;
  readonly payment_intent: string;
  readonly status: 'succeeded';
  readonly metadata: Record<string, string>;
  readonly created: number;
}

export interface FakeEvent {
  readonly id: string;
  readonly object: 'event';
  readonly type: 'payment_intent.succeeded' | 'payment_intent.payment_failed';
  readonly api_version: string;
  readonly created: number;
  readonly livemode: false;
  readonly pending_webhooks: number;
  readonly request: null;
  readonly data: { readonly object: FakePaymentIntent };
}

export interface SignedWebhook {
  readonly body: string;
  /** The `Stripe-Signature` header. */
  readonly signature: string;
  readonly headers: Record<string, string>;
}

interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  payment_intent?: FakePaymentIntent;
  payment_method?: FakePaymentMethod;
}

/** The PaymentMethod Stripe puts in a card error: its card's fingerprint names the card. */
interface FakePaymentMethod {
  readonly id: string;
  readonly object: 'payment_method';
  readonly type: 'card';
  readonly card: { readonly fingerprint: string };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

type Params = { [key: string]: string | Params };

type Stored =
  | { readonly state: 'in_flight' }
  | { readonly state: 'done'; readonly fingerprint: string; readonly answer: Answer };

/** Stripe's test payment methods (https://docs.stripe.com/testing). */
const SUCCEEDING = new Set([
  'pm_card_visa',
  'pm_card_visa_debit',
  'pm_card_mastercard',
  'pm_card_amex',
  'pm_card_discover',
]);
const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';
const DECLINES: Record<string, { message: string; decline_code: string }> = {
  pm_card_chargeDeclined: { message: 'Your card was declined.', decline_code: 'generic_decline' },
  pm_card_chargeDeclinedInsufficientFunds: {
    message: 'Your card has insufficient funds.',
    decline_code: 'insufficient_funds',
  },
  pm_card_chargeDeclinedExpiredCard: {
    message: 'Your card has expired.',
    decline_code: 'expired_card',
  },
  pm_card_chargeDeclinedFraudulent: {
    message: 'Your card was declined.',
    decline_code: 'fraudulent',
  },
};

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

/** A seeded uniform [0, 1) (mulberry32), so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `metadata[order_id]=x&automatic_payment_methods[enabled]=true` → nested objects. */
export function parseForm(text: string): Params {
  const root: Params = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = root;
    for (const part of path.slice(0, -1)) {
      const child = node[part];
      if (typeof child === 'object') node = child;
      else node = node[part] = {};
    }
    node[path[path.length - 1] as string] = value;
  }
  return root;
}

const text = (value: string | Params | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

function strings(value: string | Params | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object') return out;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}

export class FakeStripe {
  faults: FakeStripeFaults;
  readonly stats: FakeStripeStats = {
    requests: 0,
    unavailable: 0,
    resets: 0,
    rateLimited: 0,
    lostAnswers: 0,
    replays: 0,
    conflicts: 0,
  };
  private readonly apiKey: string;
  private readonly random: () => number;
  private readonly server: http.Server;
  private port = 0;
  private listening = false;
  private readonly keys = new Map<string, Stored>();
  private readonly intents = new Map<string, FakePaymentIntent>();
  private readonly refunds: FakeRefund[] = [];

  constructor(
    options: { apiKey?: string; seed?: number; faults?: Partial<FakeStripeFaults> } = {},
  ) {
    this.apiKey = options.apiKey ?? 'sk_test_x';
    this.random = options.seed === undefined ? Math.random : seeded(options.seed);
    this.faults = { ...NO_FAULTS, ...options.faults };
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          this.send(res, {
            status: 500,
            body: { error: { type: 'api_error', message: String(error) } },
          });
        }
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  get url(): string {
    if (this.port === 0) throw new Error('fake Stripe not started');
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on a free 127.0.0.1 port. */
  async start(): Promise<void> {
    await this.listen(0);
  }

  async stop(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Changes faults; `down: 'refuse'` stops listening (and drops open connections) until lifted. */
  async setFaults(faults: Partial<FakeStripeFaults>): Promise<void> {
    this.faults = { ...this.faults, ...faults };
    if (this.faults.down === 'refuse' && this.listening) await this.stop();
    else if (this.faults.down !== 'refuse' && !this.listening && this.port !== 0) {
      await this.listen(this.port);
    }
  }

  // ---- the ledger ----

  /** Every PaymentIntent of the order, as the provider holds it now. */
  intentsFor(orderId: string): FakePaymentIntent[] {
    return [...this.intents.values()].filter((intent) => intent.metadata.order_id === orderId);
  }

  /** Whether a request with this idempotency key is being handled now. */
  inFlight(idempotencyKey: string): boolean {
    return this.keys.get(idempotencyKey)?.state === 'in_flight';
  }

  intent(intentId: string): FakePaymentIntent | undefined {
    return this.intents.get(intentId);
  }

  /** Σ amount captured on the order's intents (refunds not deducted). */
  capturedFor(orderId: string): number {
    return this.intentsFor(orderId).reduce((sum, intent) => sum + intent.amount_received, 0);
  }

  /** Σ amount refunded on the order's intents. */
  refundedFor(orderId: string): number {
    return this.refundsOf(orderId).reduce((sum, refund) => sum + refund.amount, 0);
  }

  /** How many distinct intents of the order captured money. */
  chargesFor(orderId: string): number {
    return this.intentsFor(orderId).filter((intent) => intent.amount_received > 0).length;
  }

  /** How many refunds were made for the order. */
  refundsFor(orderId: string): number {
    return this.refundsOf(orderId).length;
  }

  /**
   * The customer finishes (or fails) 3-D Secure on an intent that `requires_action`:
   * answers the event the provider would post as a webhook.
   */
  completeAuthentication(intentId: string, succeed = true): FakeEvent {
    const intent = this.intents.get(intentId);
    if (!intent || intent.status !== 'requires_action') {
      throw new Error(`intent ${intentId} is not waiting for authentication`);
    }
    intent.next_action = null;
    if (succeed) {
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
      intent.latest_charge = id('ch');
    } else {
      intent.status = 'requires_payment_method';
      intent.last_payment_error = {
        type: 'card_error',
        code: 'payment_intent_authentication_failure',
        message:
          'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
      };
    }
    return this.event(
      succeed ? 'payment_intent.succeeded' : 'payment_intent.payment_failed',
      intent,
    );
  }

  /** A Stripe event for the intent as it is now (what Stripe posts for every outcome). */
  event(type: FakeEvent['type'], intent: FakePaymentIntent): FakeEvent {
    return {
      id: id('evt'),
      object: 'event',
      type,
      api_version: Stripe.API_VERSION,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: null,
      data: { object: structuredClone(intent) },
    };
  }

  /** The body and `Stripe-Signature` header Stripe would post for `event`. */
  signedWebhook(event: object, secret: string): SignedWebhook {
    const body = JSON.stringify(event);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
    return {
      body,
      signature,
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    };
  }

  // ---- the server ----

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  private chance(share: number): boolean {
    return share > 0 && this.random() < share;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests += 1;
    if (this.faults.down === 'unavailable') {
      this.stats.unavailable += 1;
      req.resume();
      this.send(res, {
        status: 503,
        body: { error: { type: 'api_error', message: 'The service is temporarily unavailable.' } },
      });
      return;
    }
    if (this.chance(this.faults.resetConnection)) {
      this.stats.resets += 1;
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      this.send(
        res,
        failure(401, { type: 'invalid_request_error', message: 'Invalid API Key provided.' }),
      );
      return;
    }
    if (this.chance(this.faults.rateLimit)) {
      this.stats.rateLimited += 1;
      this.send(res, {
        ...failure(429, {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message: 'Too many requests hit the API too quickly.',
        }),
        headers: { 'retry-after': String(this.faults.rateLimitRetryAfterS) },
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/v1/payment_intents/search') {
      await sleep(this.faults.latencyMs);
      this.send(res, this.searchIntents(url.searchParams));
      return;
    }
    const retrieve = /^\/v1\/payment_intents\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && retrieve) {
      await sleep(this.faults.latencyMs);
      const intent = this.intents.get(decodeURIComponent(retrieve[1] as string));
      this.send(
        res,
        intent
          ? { status: 200, body: intent }
          : failure(404, {
              type: 'invalid_request_error',
              code: 'resource_missing',
              message: 'No such payment_intent.',
            }),
      );
      return;
    }
    if (method === 'POST' && url.pathname === '/v1/payment_intents') {
      await this.idempotent(req, res, body, (params) => this.createIntent(params), 'charge');
      return;
    }
    if (method === 'POST' && url.pathname === '/v1/refunds') {
      await this.idempotent(req, res, body, (params) => this.createRefund(params), 'refund');
      return;
    }
    const cancel = /^\/v1\/payment_intents\/([^/]+)\/cancel$/.exec(url.pathname);
    if (method === 'POST' && cancel) {
      const intentId = decodeURIComponent(cancel[1] as string);
      await this.idempotent(
        req,
        res,
        body,
        (params) => this.cancelIntent(intentId, params),
        'cancel',
      );
      return;
    }
    this.send(
      res,
      failure(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${method}: ${url.pathname}).`,
      }),
    );
  }

  /** Stripe's idempotency: one execution per key, its answer replayed to every retry. */
  private async idempotent(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
    execute: (params: Params) => Answer,
    kind: 'charge' | 'refund' | 'cancel',
  ): Promise<void> {
    const header = req.headers['idempotency-key'];
    const key = typeof header === 'string' ? header : undefined;
    const fingerprint = `${req.url ?? ''}\n${body}`;
    if (key !== undefined) {
      const stored = this.keys.get(key);
      if (stored?.state === 'in_flight') {
        this.stats.conflicts += 1;
        this.send(
          res,
          failure(409, {
            type: 'idempotency_error',
            message:
              'There is currently another in-progress request using this Stripe API key and idempotency key. Please try again later.',
          }),
        );
        return;
      }
      if (stored?.state === 'done') {
        if (stored.fingerprint !== fingerprint) {
          this.send(
            res,
            failure(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Key: ${key}`,
            }),
          );
          return;
        }
        this.stats.replays += 1;
        const { answer } = stored;
        this.send(
          res,
          { ...answer, headers: { ...answer.headers, 'idempotent-replayed': 'true' } },
          key,
        );
        return;
      }
      this.keys.set(key, { state: 'in_flight' });
    }
    let answer: Answer;
    try {
      await sleep(this.faults.latencyMs);
      answer = execute(parseForm(body));
    } catch (error) {
      if (key !== undefined) this.keys.delete(key);
      throw error;
    }
    if (key !== undefined) this.keys.set(key, { state: 'done', fingerprint, answer });
    const lose = {
      charge: this.faults.loseAnswerAfterCharge,
      refund: this.faults.loseAnswerAfterRefund,
      cancel: this.faults.loseAnswerAfterCancel,
    }[kind];
    if (this.chance(lose)) {
      this.stats.lostAnswers += 1;
      req.socket.destroy();
      return;
    }
    this.send(res, answer, key);
  }

  private createIntent(params: Params): Answer {
    const amount = Number(text(params.amount));
    const currency = text(params.currency);
    const paymentMethod = text(params.payment_method);
    if (!Number.isInteger(amount) || amount < 1) {
      return failure(400, {
        type: 'invalid_request_error',
        param: 'amount',
        message: 'Invalid integer: amount.',
      });
    }
    if (currency === undefined) {
      return failure(400, {
        type: 'invalid_request_error',
        param: 'currency',
        message: 'Missing required param: currency.',
      });
    }
    const outOfLimits = chargeLimitFailure(amount, currency);
    if (outOfLimits) return outOfLimits;
    if (paymentMethod === undefined) {
      return failure(400, {
        type: 'invalid_request_error',
        param: 'payment_method',
        message: 'Missing required param: payment_method.',
      });
    }
    const decline = DECLINES[paymentMethod];
    if (
      decline === undefined &&
      !SUCCEEDING.has(paymentMethod) &&
      paymentMethod !== AUTHENTICATION_REQUIRED
    ) {
      return failure(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_method',
        message: `No such PaymentMethod: '${paymentMethod}'`,
      });
    }
    const intent: FakePaymentIntent = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      status: 'requires_confirmation',
      metadata: strings(params.metadata),
      payment_method: paymentMethod,
      capture_method: 'automatic',
      confirmation_method: 'automatic',
      client_secret: id('secret'),
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      last_payment_error: null,
      next_action: null,
      latest_charge: null,
      canceled_at: null,
      cancellation_reason: null,
    };
    this.intents.set(intent.id, intent);
    if (text(params.confirm) !== 'true') return { status: 200, body: structuredClone(intent) };
    if (decline) {
      const error: StripeErrorBody = {
        type: 'card_error',
        code: 'card_declined',
        ...decline,
        payment_method: cardOf(paymentMethod),
      };
      intent.status = 'requires_payment_method';
      intent.last_payment_error = error;
      intent.latest_charge = id('ch');
      return failure(402, { ...error, payment_intent: structuredClone(intent) });
    }
    if (paymentMethod === AUTHENTICATION_REQUIRED) {
      intent.status = 'requires_action';
      intent.next_action = { type: 'use_stripe_sdk' };
      return { status: 200, body: structuredClone(intent) };
    }
    intent.status = 'succeeded';
    intent.amount_received = amount;
    intent.latest_charge = id('ch');
    return { status: 200, body: structuredClone(intent) };
  }

  private createRefund(params: Params): Answer {
    const intentId = text(params.payment_intent);
    const intent = intentId === undefined ? undefined : this.intents.get(intentId);
    if (!intent) {
      return failure(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_intent',
        message: `No such payment_intent: '${intentId ?? ''}'`,
      });
    }
    if (intent.status !== 'succeeded') {
      return failure(400, {
        type: 'invalid_request_error',
        param: 'payment_intent',
        message: 'This PaymentIntent does not have a successful charge to refund.',
      });
    }
    const refunded = this.refunds
      .filter((refund) => refund.payment_intent === intent.id)
      .reduce((sum, refund) => sum + refund.amount, 0);
    const left = intent.amount_received - refunded;
    if (left <= 0) {
      return failure(400, {
        type: 'invalid_request_error',
        code: 'charge_already_refunded',
        message: `Charge ${intent.latest_charge ?? ''} has already been refunded.`,
      });
    }
    const asked = text(params.amount);
    const amount = asked === undefined ? left : Number(asked);
    if (!Number.isInteger(amount) || amount < 1 || amount > left) {
      return failure(400, {
        type: 'invalid_request_error',
        code: 'amount_too_large',
        param: 'amount',
        message: `Refund amount (${asked ?? ''}) is greater than unrefunded amount on charge (${left}).`,
      });
    }
    const refund: FakeRefund = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intent.id,
      status: 'succeeded',
      metadata: strings(params.metadata),
      created: Math.floor(Date.now() / 1000),
    };
    this.refunds.push(refund);
    return { status: 200, body: refund };
  }

  /**
   * Stripe's cancel: an intent that has not completed becomes `canceled` (it can no longer
   * capture); one already canceled or succeeded is refused with 400
   * `payment_intent_unexpected_state`, the intent in the error.
   */
  private cancelIntent(intentId: string, params: Params): Answer {
    const intent = this.intents.get(intentId);
    if (!intent) {
      return failure(404, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'intent',
        message: `No such payment_intent: '${intentId}'`,
      });
    }
    if (intent.status === 'canceled' || intent.status === 'succeeded') {
      return failure(400, {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
        payment_intent: structuredClone(intent),
      });
    }
    intent.status = 'canceled';
    intent.next_action = null;
    intent.canceled_at = Math.floor(Date.now() / 1000);
    intent.cancellation_reason = text(params.cancellation_reason) ?? null;
    return { status: 200, body: structuredClone(intent) };
  }

  /**
   * Stripe's search, for the one query orderflow makes: `metadata['key']:'value'` (exact
   * match), newest first. Unlike Stripe's index it is never behind.
   */
  private searchIntents(params: URLSearchParams): Answer {
    const query = params.get('query') ?? '';
    const match = /^metadata\['([^']+)'\]:(['"])((?:\\.|(?!\2).)*)\2$/.exec(query.trim());
    if (!match) {
      return failure(400, {
        type: 'invalid_request_error',
        param: 'query',
        message: `The fake supports only metadata['key']:'value' queries, got: ${query}`,
      });
    }
    const key = match[1] as string;
    const value = (match[3] as string).replace(/\\(.)/g, '$1');
    const limit = Math.min(100, Math.max(1, Number(params.get('limit') ?? '10') || 10));
    const found = [...this.intents.values()]
      .filter((intent) => intent.metadata[key] === value)
      .sort((a, b) => b.created - a.created);
    return {
      status: 200,
      body: {
        object: 'search_result',
        url: '/v1/payment_intents/search',
        has_more: found.length > limit,
        next_page: null,
        data: found.slice(0, limit).map((intent) => structuredClone(intent)),
      },
    };
  }

  private refundsOf(orderId: string): FakeRefund[] {
    const intents = new Set(this.intentsFor(orderId).map((intent) => intent.id));
    return this.refunds.filter((refund) => intents.has(refund.payment_intent));
  }

  private send(res: http.ServerResponse, answer: Answer, key?: string): void {
    if (res.destroyed || res.headersSent) return;
    const payload = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
      'request-id': id('req'),
      ...(key !== undefined && { 'idempotency-key': key }),
      ...answer.headers,
    });
    res.end(payload);
  }
}

/** The card behind a test payment method; its fingerprint is fixed per payment method here. */
function cardOf(paymentMethod: string): FakePaymentMethod {
  const fingerprint = createHash('sha256').update(paymentMethod).digest('hex').slice(0, 16);
  return { id: paymentMethod, object: 'payment_method', type: 'card', card: { fingerprint } };
}

/**
 * Stripe's minimum charge per currency, in minor units (docs.stripe.com/currencies, "Minimum
 * and maximum charge amounts"); other currencies get 50. The maximum is eight digits for all.
 */
const MINIMUM_CHARGE: Readonly<Record<string, number>> = {
  usd: 50,
  eur: 50,
  gbp: 30,
  cad: 50,
  aud: 50,
  chf: 50,
  jpy: 50,
  dkk: 250,
  nok: 300,
  sek: 300,
};
const MAXIMUM_CHARGE = 99_999_999;
const ZERO_DECIMAL = new Set(['jpy', 'krw']);

/** A PaymentIntent amount outside Stripe's limits: 400 `amount_too_small` / `amount_too_large`. */
function chargeLimitFailure(amount: number, currency: string): Answer | undefined {
  const code = currency.toLowerCase();
  const shown = (minor: number): string =>
    ZERO_DECIMAL.has(code) ? String(minor) : (minor / 100).toFixed(2);
  const minimum = MINIMUM_CHARGE[code] ?? 50;
  if (amount >= minimum && amount <= MAXIMUM_CHARGE) return undefined;
  const tooSmall = amount < minimum;
  return failure(400, {
    type: 'invalid_request_error',
    code: tooSmall ? 'amount_too_small' : 'amount_too_large',
    param: 'amount',
    doc_url: `https://stripe.com/docs/error-codes/${tooSmall ? 'amount-too-small' : 'amount-too-large'}`,
    message: tooSmall
      ? `Amount must be at least ${shown(minimum)} ${code}`
      : `Amount must be no more than ${shown(MAXIMUM_CHARGE)} ${code}`,
  });
}

function failure(status: number, error: StripeErrorBody): Answer {
  return { status, body: { error } };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Invariant 3 per order, from the provider's ledger: net captured (captured − refunded) is
 * the order's total if it is COMPLETED and 0 otherwise; at most one intent captured money
 * and at most one refund was made; a REFUNDED order got its whole total back.
 */
export function ledgerViolations(fake: FakeStripe, orders: Iterable<OrderView>): string[] {
  const violations: string[] = [];
  for (const order of orders) {
    const { orderId, status } = order;
    const captured = fake.capturedFor(orderId);
    const refunded = fake.refundedFor(orderId);
    const expected = status === 'COMPLETED' ? order.total.amount : 0;
    const where = `order ${orderId} (${status}, total ${order.total.amount})`;
    if (captured - refunded !== expected) {
      violations.push(`${where}: captured ${captured} − refunded ${refunded} ≠ ${expected}`);
    }
    if (fake.chargesFor(orderId) > 1) {
      violations.push(`${where}: captured by ${fake.chargesFor(orderId)} intents`);
    }
    if (fake.refundsFor(orderId) > 1) {
      violations.push(`${where}: refunded ${fake.refundsFor(orderId)} times`);
    }
    if (status === 'REFUNDED' && (captured !== order.total.amount || refunded !== captured)) {
      violations.push(`${where}: REFUNDED but captured ${captured}, refunded ${refunded}`);
    }
  }
  return violations;
}

import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TerminalError } from '../../domain/errors.js';
import { orUnavailable } from '../errors.js';
import { ERROR_RESPONSES } from '../schemas.js';
import type { HttpDeps } from './deps.js';

/** The raw bytes of the provider's JSON event: its signature covers them, not a re-serialization. */
const WebhookBody = z
  .custom<Buffer>((value) => Buffer.isBuffer(value), 'a webhook needs its JSON body')
  .meta({
    type: 'object',
    additionalProperties: true,
    description:
      'The provider event exactly as sent (e.g. `payment_intent.succeeded`); ' +
      '`data.object.metadata.order_id` names the order',
  });

const WebhookHeaders = z.looseObject({
  'stripe-signature': z
    .string({ error: 'the Stripe-Signature header is required' })
    .min(1, 'the Stripe-Signature header is required')
    .describe('`t=<unix time>,v1=<HMAC-SHA256 of "t.body" with the webhook secret>`'),
});

const WebhookReceived = z
  .object({
    received: z.literal(true),
    ignored: z
      .literal(true)
      .optional()
      .describe('The event verified but says nothing about a payment: nothing was recorded'),
  })
  .describe('Verified; a payment outcome is recorded once however often it is delivered');

/**
 * `POST /v1/webhooks/stripe`: the provider's signed word on payments that completed
 * asynchronously. No API key (the provider cannot send one): the signature over the raw
 * body authenticates it, and the IP rate limit still applies. The outcome is recorded on
 * the log (deduplicated) and the saga applies it; a backend failure answers 503 so that
 * the provider retries.
 *
 * Registered as its own plugin: the raw-body parser below is scoped to this route.
 */
export const webhookRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, parsed) =>
    parsed(null, body),
  );

  app.post(
    '/v1/webhooks/stripe',
    {
      // Answered before the body is read when no provider with webhooks is configured.
      onRequest: (_request, _reply, hookDone) => {
        hookDone(
          ctx.orders.acceptsWebhooks
            ? undefined
            : new TerminalError('not_found', 'no payment provider with webhooks is configured'),
        );
      },
      schema: {
        summary: "The payment provider's webhook (Stripe-compatible)",
        description:
          'Authenticated by its `Stripe-Signature` over the raw body, not by an API key. ' +
          '`payment_intent.succeeded` and `payment_intent.payment_failed` settle a payment that ' +
          'completed asynchronously (`requires_action`); the same event delivered again is ' +
          'applied once; other events are acknowledged and ignored. 400 `invalid_signature` ' +
          'when the signature does not verify, `validation_error` when a payment event has no ' +
          'amount or currency; 404 when no provider with webhooks is ' +
          'configured; 503 with Retry-After when the event could not be recorded (the provider ' +
          'retries).',
        tags: ['payments'],
        security: [],
        headers: WebhookHeaders,
        body: WebhookBody,
        response: { 200: WebhookReceived, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const outcome = await orUnavailable(
        ctx.orders.recordWebhook(request.body, request.headers['stripe-signature']),
        'the event log',
      );
      if (!outcome) return { received: true as const, ignored: true as const };
      request.log.info(
        {
          orderId: outcome.orderId,
          paymentRef: outcome.paymentRef,
          succeeded: outcome.succeeded,
          amount: outcome.amount,
        },
        'payment outcome recorded from a webhook',
      );
      return { received: true as const };
    },
  );

  done();
};

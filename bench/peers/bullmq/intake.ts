import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { peerEnv, peerKeys, QUEUE, type OrderJob } from './keys.js';

/**
 * The peer's intake, the way a shop would write it on BullMQ: fastify validates the same
 * body as orderflow (same limits, strict objects), prices it from a catalog cached from
 * Redis, enqueues one job whose id is the order id, and answers 202.
 */
const env = peerEnv();
const keys = peerKeys(env.prefix);
const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue<OrderJob>(QUEUE, { connection: redis, prefix: env.prefix });

/** sku → price in cents; refreshed every 500 ms, and read through on a miss. */
const catalog = new Map<string, number>();
async function refreshCatalog(): Promise<void> {
  const all = await redis.hgetall(keys.catalog);
  for (const [sku, price] of Object.entries(all)) catalog.set(sku, Number(price));
}
const refresher = setInterval(() => void refreshCatalog().catch(() => undefined), 500);

async function priceOf(skus: string[]): Promise<(number | undefined)[]> {
  const missing = skus.filter((sku) => !catalog.has(sku));
  if (missing.length > 0) {
    const prices = await redis.hmget(keys.catalog, ...missing);
    missing.forEach((sku, index) => {
      const price = prices[index];
      if (price !== null && price !== undefined) catalog.set(sku, Number(price));
    });
  }
  return skus.map((sku) => catalog.get(sku));
}

const body = {
  type: 'object',
  additionalProperties: false,
  required: ['customerId', 'email', 'items', 'paymentMethod'],
  properties: {
    customerId: { type: 'string', minLength: 1, maxLength: 128 },
    email: { type: 'string', format: 'email', maxLength: 254 },
    items: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sku', 'qty'],
        properties: {
          sku: { type: 'string', minLength: 1, maxLength: 64 },
          qty: { type: 'integer', minimum: 1, maximum: 10_000 },
        },
      },
    },
    paymentMethod: { type: 'string', minLength: 1, maxLength: 128 },
  },
} as const;

type Body = Omit<OrderJob, 'orderId' | 'totalCents' | 'acceptedAt'>;

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.addHook('onRequest', async (request, reply) => {
  if (request.url === '/healthz' || request.url === '/memory') return;
  if (env.apiKey && request.headers.authorization !== `Bearer ${env.apiKey}`)
    await reply.code(401).send({ error: { code: 'unauthorized', message: 'bad API key' } });
});
app.get('/healthz', () => Promise.resolve({ ok: true }));
app.get('/memory', () => Promise.resolve(process.memoryUsage()));
app.post<{ Body: Body }>('/v1/orders', { schema: { body } }, async (request, reply) => {
  const { items } = request.body;
  const prices = await priceOf(items.map((item) => item.sku));
  const unknown = items.filter((_, index) => prices[index] === undefined).map((item) => item.sku);
  if (unknown.length > 0)
    return reply
      .code(422)
      .send({ error: { code: 'unknown_sku', message: `unknown ${unknown.join(', ')}` } });
  const totalCents = items.reduce((sum, item, index) => sum + item.qty * (prices[index] ?? 0), 0);
  const orderId = randomUUID();
  await queue.add(
    'order',
    { ...request.body, orderId, totalCents, acceptedAt: Date.now() },
    {
      jobId: orderId,
      attempts: 3,
      backoff: { type: 'exponential', delay: 100 },
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 5000 },
    },
  );
  return reply
    .code(202)
    .header('location', `/v1/orders/${orderId}`)
    .send({ orderId, status: 'PENDING', total: { amount: totalCents, currency: 'USD' } });
});

await refreshCatalog();
await app.listen({ port: env.port, host: process.env['HOST'] ?? '127.0.0.1' });
process.on('SIGTERM', () => {
  clearInterval(refresher);
  void app
    .close()
    .then(() => queue.close())
    .then(() => redis.quit())
    .finally(() => process.exit(0));
});

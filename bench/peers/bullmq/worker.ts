import { createServer } from 'node:http';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { peerEnv, peerKeys, QUEUE, type OrderJob } from './keys.js';
import { charge } from './payments.js';
import { defineStockScripts } from './stock-scripts.js';

/**
 * The peer's worker at concurrency 50: reserve every SKU of the order or none (one Lua
 * script), charge the simulated provider, give the stock back on a decline, and record the
 * final status once (a hash per order and a counter per status) with its time.
 */
const env = peerEnv();
const keys = peerKeys(env.prefix);
const redis = defineStockScripts(new Redis(env.redisUrl, { maxRetriesPerRequest: null }));

async function finish(orderId: string, status: string): Promise<string> {
  await redis.finish(keys.order(orderId), keys.counts, status, Date.now());
  return status;
}

const worker = new Worker<OrderJob, string>(
  QUEUE,
  async (job) => {
    const { orderId, items, paymentMethod } = job.data;
    const skuQty = items.flatMap((item) => [item.sku, item.qty]);
    const reservation = keys.reservation(orderId);
    const held = await redis.reserve(keys.stock, reservation, ...skuQty);
    if (held === '0') return finish(orderId, 'FAILED_NO_STOCK');
    const payment = charge(orderId, paymentMethod);
    if (payment.status === 'declined') {
      await redis.release(keys.stock, reservation, ...skuQty);
      return finish(orderId, 'PAYMENT_FAILED');
    }
    return finish(orderId, 'COMPLETED');
  },
  {
    connection: new Redis(env.redisUrl, { maxRetriesPerRequest: null }),
    prefix: env.prefix,
    concurrency: 50,
  },
);

await worker.waitUntilReady();
const health = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(req.url === '/memory' ? process.memoryUsage() : { ok: true }));
});
health.listen(env.port, process.env['HOST'] ?? '127.0.0.1');
process.on('SIGTERM', () => {
  health.close();
  void worker
    .close()
    .then(() => redis.quit())
    .finally(() => process.exit(0));
});

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ENGINES } from '../../test/helpers/engines.js';
import { spawnNode, type Child } from '../child.js';
import { peerKeys, QUEUE } from '../peers/bullmq/keys.js';
import { TERMINAL, type CompletionTracker, type MemorySample, type Target } from './target.js';

const API_KEY = 'bench_bullmq_client';
const PEER = join(import.meta.dirname, '..', 'peers', 'bullmq');

async function heapUsed(child: Child): Promise<number | undefined> {
  try {
    const response = await fetch(child.url + '/memory', { signal: AbortSignal.timeout(5_000) });
    return ((await response.json()) as { heapUsed: number }).heapUsed;
  } catch {
    return undefined;
  }
}

/** Deletes every key under the peer's prefix (BullMQ's queue keys and the shop's). */
async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Completion times from the worker's records in Redis, read once the orders are done. */
function redisCompletions(redis: Redis, keys: ReturnType<typeof peerKeys>): CompletionTracker {
  const tracked: { orderId: string; acceptedAt: number }[] = [];
  return {
    track: (orderId, acceptedAt) => void tracked.push({ orderId, acceptedAt }),
    settle: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      const recorded: number[] = [];
      let notCompleted = 0;
      let pending = tracked;
      while (pending.length > 0) {
        const later: typeof tracked = [];
        for (let i = 0; i < pending.length; i += 1000) {
          const slice = pending.slice(i, i + 1000);
          const pipeline = redis.pipeline();
          for (const { orderId } of slice) pipeline.hmget(keys.order(orderId), 'status', 'at');
          const answers = (await pipeline.exec()) ?? [];
          slice.forEach((order, index) => {
            const [status, at] = (answers[index]?.[1] as (string | null)[] | undefined) ?? [];
            if (!status) later.push(order);
            else if (status !== 'COMPLETED') notCompleted += 1;
            else recorded.push(Math.max(0, Number(at) - order.acceptedAt));
          });
        }
        pending = later;
        if (pending.length === 0 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return { recorded, observed: undefined, notCompleted, unknown: pending.length };
    },
  };
}

/**
 * The BullMQ peer (bench/peers/bullmq): a fastify intake and one worker at concurrency 50,
 * on the shared Redis under a prefix of its own, deleted on stop.
 */
export async function startBullmq(cpus: string | undefined): Promise<Target> {
  const prefix = `bench_bullmq_${randomBytes(5).toString('hex')}`;
  const keys = peerKeys(prefix);
  const redis = new Redis(ENGINES.redis, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE, { connection: redis, prefix });
  const env = {
    BULLMQ_PEER_PREFIX: prefix,
    BULLMQ_PEER_REDIS_URL: ENGINES.redis,
    BULLMQ_PEER_API_KEY: API_KEY,
  };
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => child.stop()));
    await queue.close();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  };
  const started = performance.now();
  try {
    const [intake, worker] = await Promise.all([
      spawnNode(join(PEER, 'intake.js'), [], { env, readyPath: '/healthz', cpus }),
      spawnNode(join(PEER, 'worker.js'), [], { env, readyPath: '/healthz', cpus }),
    ]);
    children.push(intake, worker);
  } catch (error) {
    await stop();
    throw error;
  }
  const startMs = performance.now() - started;
  const [intake] = children;
  if (!intake) throw new Error('no intake');
  return {
    name: 'bullmq',
    url: intake.url,
    headers: { authorization: `Bearer ${API_KEY}` },
    startMs,
    pipeline: true,
    setStock: async (sku, onHand) => {
      await redis.multi().hset(keys.catalog, sku, 1000).hset(keys.stock, sku, onHand).exec();
    },
    stock: async (sku) => ({
      available: Number((await redis.hget(keys.stock, sku)) ?? 0),
      reserved: 0,
    }),
    progress: async () => {
      const [counts, jobs] = await Promise.all([
        redis.hgetall(keys.counts),
        queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children'),
      ]);
      const byStatus = Object.fromEntries(
        Object.entries(counts).map(([status, n]) => [status, Number(n)]),
      );
      const terminal = TERMINAL.reduce((sum, status) => sum + (byStatus[status] ?? 0), 0);
      const open = Object.values(jobs).reduce((sum, n) => sum + n, 0);
      return { terminal, open, byStatus };
    },
    completions: () => redisCompletions(redis, keys),
    memory: async (): Promise<MemorySample> => {
      const samples = await Promise.all(
        children.map(async (child) => ({
          rss: (await child.rss())?.now ?? 0,
          heap: await heapUsed(child),
        })),
      );
      const heaps = samples.map((sample) => sample.heap).filter((heap) => heap !== undefined);
      return {
        rss: samples.reduce((sum, sample) => sum + sample.rss, 0),
        heapUsed: heaps.length === 0 ? undefined : heaps.reduce((sum, heap) => sum + heap, 0),
      };
    },
    stop,
  };
}

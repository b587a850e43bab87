import { randomBytes } from 'node:crypto';
import type { Clock } from '../../ports/clock.js';
import type { DeclineCounter } from '../../ports/decline-counter.js';
import type { RedisConnection } from './redis-connection.js';

/** Decline times per key in a sorted set `<ns>:declines:<key>` that expires with its window. */
export class RedisDeclineCounter implements DeclineCounter {
  constructor(
    private readonly connection: RedisConnection,
    private readonly namespace: string,
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  async add(keys: readonly string[]): Promise<void> {
    const now = this.clock.now();
    await this.connection.run(async (client) => {
      const pipeline = client.multi();
      for (const key of keys) {
        const set = this.setKey(key);
        pipeline.zadd(set, now, `${now}:${randomBytes(4).toString('hex')}`);
        pipeline.zremrangebyscore(set, '-inf', now - this.windowMs);
        pipeline.pexpire(set, this.windowMs);
      }
      await pipeline.exec();
    });
  }

  counts(keys: readonly string[]): Promise<readonly number[]> {
    const since = this.clock.now() - this.windowMs;
    return this.connection.run(async (client) => {
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.zcount(this.setKey(key), `(${since}`, '+inf');
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
      return results.map(([, n]) => Number(n));
    });
  }

  /** The connection belongs to the backend that opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private setKey(key: string): string {
    return `${this.namespace}:declines:${encodeURIComponent(key)}`;
  }
}

import type { Clock } from '../../ports/clock.js';
import type { SyncEntry, SyncOutbox } from '../../ports/sync-outbox.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * The sync-out backlog in Redis: one sorted set of `<orderId>|<status>` scored by when it was
 * added (ZADD NX keeps the first time). Entries added in the same millisecond come out in
 * member order rather than insertion order.
 */
export class RedisSyncOutbox implements SyncOutbox {
  private readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    namespace: string,
    private readonly clock: Clock,
  ) {
    this.key = `${namespace}:sync-outbox`;
  }

  async add(orderId: string, status: string): Promise<void> {
    const at = this.clock.now();
    await this.connection.run((client) => client.zadd(this.key, 'NX', at, member(orderId, status)));
  }

  async take(limit: number): Promise<SyncEntry[]> {
    if (limit <= 0) return [];
    const members = await this.connection.run((client) =>
      client.zrange(this.key, 0, String(limit - 1)),
    );
    return members.map(entryOf);
  }

  async done(entries: readonly SyncEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const members = entries.map((entry) => member(entry.orderId, entry.status));
    await this.connection.run((client) => client.zrem(this.key, ...members));
  }

  size(): Promise<number> {
    return this.connection.run((client) => client.zcard(this.key));
  }
}

function member(orderId: string, status: string): string {
  return `${orderId}|${status}`;
}

/** A status never holds `|`; an order id might, so the last one separates them. */
function entryOf(stored: string): SyncEntry {
  const separator = stored.lastIndexOf('|');
  return { orderId: stored.slice(0, separator), status: stored.slice(separator + 1) };
}

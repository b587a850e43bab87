import type { Clock } from '../../ports/clock.js';
import type { SyncEntry, SyncOutbox } from '../../ports/sync-outbox.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/** Keeps the later of the stored time and ARGV[1]: one conditional write, never a step back. */
const MARK_SYNCED = `
local current = tonumber(redis.call('GET', KEYS[1]))
local at = tonumber(ARGV[1])
if current == nil or at > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * The sync-out backlog in Redis: one sorted set of `<orderId>|<status>` scored by when it was
 * added (ZADD NX keeps the first time). Entries added in the same millisecond come out in
 * member order rather than insertion order. The last successful sync-out is one string key
 * beside it, in epoch ms.
 */
export class RedisSyncOutbox implements SyncOutbox {
  private readonly key: string;
  private readonly lastKey: string;
  private readonly markScript: RedisScript;

  constructor(
    private readonly connection: RedisConnection,
    namespace: string,
    private readonly clock: Clock,
  ) {
    this.key = `${namespace}:sync-outbox`;
    this.lastKey = `${namespace}:sync-last-success`;
    this.markScript = connection.script('orderflowMarkSynced', MARK_SYNCED);
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

  async markSynced(at: number): Promise<void> {
    await this.markScript([this.lastKey], [Math.trunc(at)]);
  }

  async lastSyncedAt(): Promise<number | undefined> {
    const stored = await this.connection.run((client) => client.get(this.lastKey));
    return stored === null ? undefined : Number(stored);
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

import type { Lease } from '../../ports/lease.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/**
 * KEYS: lease, token counter. ARGV: holder, ttlMs. Takes a free lease (with the next
 * token) or renews one's own (keeping its token); 0 while another holds it.
 */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return redis.call('INCR', KEYS[2])
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2])) or redis.call('INCR', KEYS[2])
end
return 0
`;

/** KEYS: lease. ARGV: holder. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * Leases in Redis at `<ns>:lease:<name>`, holding the holder's name. The TTL is Redis's own
 * (PX), so the processes' clocks need not agree: one server's clock decides when it lapses.
 * The fencing token is a counter beside it (`<ns>:lease-token:<name>`, never expiring),
 * bumped by every take: only the holder of the moment has the counter's value.
 */
export class RedisLease implements Lease {
  private readonly acquireScript: RedisScript;
  private readonly releaseScript: RedisScript;

  constructor(
    connection: RedisConnection,
    private readonly namespace: string,
  ) {
    this.acquireScript = connection.script('orderflowLeaseAcquireFenced', ACQUIRE);
    this.releaseScript = connection.script('orderflowLeaseRelease', RELEASE);
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<number | undefined> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const token = Number(
      await this.acquireScript([this.key(name), this.tokenKey(name)], [holder, ttl]),
    );
    return token > 0 ? token : undefined;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.releaseScript([this.key(name)], [holder]);
  }

  private key(name: string): string {
    return `${this.namespace}:lease:${name}`;
  }

  private tokenKey(name: string): string {
    return `${this.namespace}:lease-token:${name}`;
  }
}

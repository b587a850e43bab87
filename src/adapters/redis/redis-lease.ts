import type { Lease } from '../../ports/lease.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/** KEYS: lease. ARGV: holder, ttlMs. Takes a free lease or renews one's own. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
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
 */
export class RedisLease implements Lease {
  private readonly acquireScript: RedisScript;
  private readonly releaseScript: RedisScript;

  constructor(
    connection: RedisConnection,
    private readonly namespace: string,
  ) {
    this.acquireScript = connection.script('orderflowLeaseAcquire', ACQUIRE);
    this.releaseScript = connection.script('orderflowLeaseRelease', RELEASE);
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return (await this.acquireScript([this.key(name)], [holder, ttl])) === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.releaseScript([this.key(name)], [holder]);
  }

  private key(name: string): string {
    return `${this.namespace}:lease:${name}`;
  }
}

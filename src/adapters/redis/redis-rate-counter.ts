import type { RateCount, RateCounter } from '../../ports/rate-counter.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/**
 * GCRA on Redis's own clock (one clock for every process): the key holds the bucket's
 * "theoretical arrival time", when it will be empty; a request fits while that is at most a
 * window ahead of now. One round trip; the key expires when the bucket is empty. The time is
 * stored with all 17 digits: Lua's `tostring` keeps 14, which rounds a millisecond time to
 * 0.1 ms, and a request a few microseconds after the last was then counted twice over.
 */
const HIT = `
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local interval = window / max
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nextTat = tat + interval
if nextTat - now > window then
  return {max + 1, math.ceil(nextTat - now - window)}
end
redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.ceil(nextTat - now))
return {math.ceil((nextTat - now) / interval - 1e-9), math.ceil(nextTat - now)}
`;

/** A bucket per key at `<ns>:rate:<key>`: one EVALSHA a request. */
export class RedisRateCounter implements RateCounter {
  private readonly script: RedisScript;

  constructor(
    connection: RedisConnection,
    private readonly namespace: string,
  ) {
    this.script = connection.script('orderflowRateHit', HIT);
  }

  async hit(key: string, windowMs: number, max: number): Promise<RateCount> {
    const [count, resetMs] = (await this.script(
      [`${this.namespace}:rate:${key}`],
      [windowMs, max],
    )) as [number, number];
    return { count, resetMs };
  }
}

import type { Redis } from 'ioredis';

/**
 * All SKUs of an order or none, in ONE script, idempotent by order id (a retried job gets
 * the first answer). KEYS: stock hash, the order's reservation key. ARGV: sku, qty, sku, qty…
 */
const RESERVE = `
local done = redis.call('GET', KEYS[2])
if done then return done end
for i = 1, #ARGV, 2 do
  local available = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if available < tonumber(ARGV[i + 1]) then
    redis.call('SET', KEYS[2], '0', 'EX', 86400)
    return '0'
  end
end
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1]))
end
redis.call('SET', KEYS[2], '1', 'EX', 86400)
return '1'
`;

/** Gives a held reservation back, once. Same KEYS and ARGV as RESERVE. */
const RELEASE = `
if redis.call('GET', KEYS[2]) ~= '1' then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
end
redis.call('SET', KEYS[2], 'released', 'EX', 86400)
return 1
`;

/** Records an order's final status once, and counts it. KEYS: order hash, counts. ARGV: status, at. */
const FINISH = `
if redis.call('HSETNX', KEYS[1], 'status', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[2])
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
`;

export interface StockScripts {
  reserve(stock: string, reservation: string, ...skuQty: (string | number)[]): Promise<string>;
  release(stock: string, reservation: string, ...skuQty: (string | number)[]): Promise<number>;
  finish(order: string, counts: string, status: string, at: number): Promise<number>;
}

/** Registers the scripts on `redis` (EVALSHA, loaded on first use). */
export function defineStockScripts(redis: Redis): Redis & StockScripts {
  redis.defineCommand('reserve', { numberOfKeys: 2, lua: RESERVE });
  redis.defineCommand('release', { numberOfKeys: 2, lua: RELEASE });
  redis.defineCommand('finish', { numberOfKeys: 2, lua: FINISH });
  return redis as Redis & StockScripts;
}

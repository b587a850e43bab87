/**
 * The stock cache's Lua scripts. Each runs atomically in Redis, so every StockStore method
 * is one script keyed by order id.
 *
 * Per SKU, hash `<ns>:sku:<sku>`: name, price_cents, currency, available, held and
 * pending_sot. Per order, hash `<ns>:res:<orderId>`: state (held | committed | released |
 * returned | refused), lines (JSON `[[sku, qty], …]`, one per SKU), expires_at, consumed
 * ('1' once the source of truth's on_hand reflects the sale), short (JSON, when refused).
 * Held orders are in the sorted set `<ns>:res-expiry`, scored by when their expiry is next
 * due to be announced (expires_at, then later while still held).
 *
 * Retention: a record that no longer holds stock and weighs nothing in `pending_sot` gets a
 * TTL (the order retention and a margin) when sync-out marks its order, or a released hold
 * at once, and Redis removes it. A script that holds or returns stock again removes the TTL
 * (HSET keeps it), so a record that matters to the counters never expires.
 *
 * `pending_sot` is what sync-in subtracts from the source of truth's on_hand besides the
 * holds: Σ qty(committed ∧ ¬consumed) − Σ qty(returned ∧ consumed). Each order adds
 * weight(state, consumed) × qty to it, so a script that changes an order's state or
 * consumed flag moves the counter by the difference of the weights.
 *
 * Scripts that commit, release or mark an order build the SKU keys from the prefix (they
 * are in the reservation record only): the store needs a single Redis, not a cluster.
 */

const WEIGHT = `
local function weight(state, consumed)
  if state == 'committed' and consumed ~= '1' then return 1 end
  if state == 'returned' and consumed == '1' then return -1 end
  return 0
end
`;

/**
 * KEYS: res, expiry, sku keys (sorted by SKU). ARGV: orderId, expiresAt, then sku, qty per
 * SKU key. Returns {1} or {0, short SKUs as JSON}; an order reserved before gets its first answer.
 */
export const RESERVE = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'refused' then return {0, redis.call('HGET', KEYS[1], 'short')} end
-- A released hold is held anew (an order abandoned by the intake, then resumed by its retry).
if state and state ~= 'released' then return {1, redis.call('HGET', KEYS[1], 'expires_at')} end
local short, lines = {}, {}
for i = 3, #KEYS do
  local sku, qty = ARGV[2 * i - 3], tonumber(ARGV[2 * i - 2])
  local available = tonumber(redis.call('HGET', KEYS[i], 'available'))
  if not available or available < qty then short[#short + 1] = sku end
  lines[#lines + 1] = {sku, qty}
end
if #short > 0 then
  local encoded = cjson.encode(short)
  redis.call('HSET', KEYS[1], 'state', 'refused', 'short', encoded)
  return {0, encoded}
end
for i = 3, #KEYS do
  local qty = tonumber(ARGV[2 * i - 2])
  redis.call('HINCRBY', KEYS[i], 'available', -qty)
  redis.call('HINCRBY', KEYS[i], 'held', qty)
end
redis.call('HSET', KEYS[1], 'state', 'held', 'lines', cjson.encode(lines),
  'expires_at', ARGV[2], 'consumed', '0')
redis.call('PERSIST', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {1, ARGV[2]}
`;

/**
 * KEYS: expiry. ARGV: reservation key prefix, now, limit, reannounceMs. The expiry set's
 * score is when a hold is next due to be announced (its expiry, then every reannounceMs).
 * Returns {orderId, expiresAt, …} of the holds due, now pushed to the back.
 */
export const CLAIM_EXPIRED = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, orderId in ipairs(due) do
  local r = redis.call('HMGET', ARGV[1] .. orderId, 'state', 'expires_at')
  if r[1] == 'held' then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[4]), orderId)
    out[#out + 1] = orderId
    out[#out + 1] = r[2]
  else
    redis.call('ZREM', KEYS[1], orderId)
  end
end
return out
`;

/** KEYS: res, expiry. ARGV: sku key prefix, orderId. A hold becomes a sale. */
export const COMMIT = `${WEIGHT}
local r = redis.call('HMGET', KEYS[1], 'state', 'lines', 'consumed')
if r[1] ~= 'held' then return 0 end
local pending = weight('committed', r[3]) - weight('held', r[3])
for _, line in ipairs(cjson.decode(r[2])) do
  local key = ARGV[1] .. line[1]
  redis.call('HINCRBY', key, 'held', -line[2])
  if pending ~= 0 then redis.call('HINCRBY', key, 'pending_sot', pending * line[2]) end
end
redis.call('HSET', KEYS[1], 'state', 'committed')
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`;

/**
 * KEYS: res, expiry. ARGV: sku key prefix, orderId, record ttl ms (0: for good). A hold is
 * released, a sale returned. A released record holds and weighs nothing: it gets the TTL at
 * once (its order may never be synced: one the intake abandoned); a returned one is kept.
 */
export const RELEASE = `${WEIGHT}
local r = redis.call('HMGET', KEYS[1], 'state', 'lines', 'consumed')
local state = r[1]
if state ~= 'held' and state ~= 'committed' then return 0 end
local after = state == 'held' and 'released' or 'returned'
local pending = weight(after, r[3]) - weight(state, r[3])
for _, line in ipairs(cjson.decode(r[2])) do
  local key = ARGV[1] .. line[1]
  redis.call('HINCRBY', key, 'available', line[2])
  if state == 'held' then redis.call('HINCRBY', key, 'held', -line[2]) end
  if pending ~= 0 then redis.call('HINCRBY', key, 'pending_sot', pending * line[2]) end
end
redis.call('HSET', KEYS[1], 'state', after)
local ttl = tonumber(ARGV[3])
if after == 'released' and ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`;

/**
 * The sync lease's fencing: `<ns>:stock-fence` holds the newest token seen. A token older
 * than it is refused; '' is an unfenced call.
 */
const FENCE = `
local function admitted(key, token)
  if token == '' then return true end
  local newest = tonumber(redis.call('GET', key))
  if newest and tonumber(token) < newest then return false end
  redis.call('SET', key, token)
  return true
end
`;

/**
 * KEYS: res, fence. ARGV: sku key prefix, consumed ('1' | '0'), fence, record ttl ms (0: for
 * good). -1: fenced off. A record left holding nothing and weighing nothing gets the TTL.
 */
export const MARK_SYNCED = `${WEIGHT}${FENCE}
if not admitted(KEYS[2], ARGV[3]) then return -1 end
local r = redis.call('HMGET', KEYS[1], 'state', 'lines', 'consumed')
if not r[1] then return 0 end
local pending = weight(r[1], ARGV[2]) - weight(r[1], r[3])
if pending ~= 0 then
  for _, line in ipairs(cjson.decode(r[2])) do
    redis.call('HINCRBY', ARGV[1] .. line[1], 'pending_sot', pending * line[2])
  end
end
redis.call('HSET', KEYS[1], 'consumed', ARGV[2])
local ttl = tonumber(ARGV[4])
if ttl > 0 and r[1] ~= 'held' and weight(r[1], ARGV[2]) == 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`;

/**
 * KEYS: fence, sku keys. ARGV: fence, then name, price_cents, currency, onHand per key.
 * available = max(0, onHand − pending_sot − held), for all products at once. -1: fenced off.
 */
export const RECONCILE = `${FENCE}
if not admitted(KEYS[1], ARGV[1]) then return -1 end
for i = 2, #KEYS do
  local key, base = KEYS[i], 1 + 4 * (i - 2)
  local r = redis.call('HMGET', key, 'pending_sot', 'held')
  local pending, held = tonumber(r[1]) or 0, tonumber(r[2]) or 0
  local available = math.max(0, tonumber(ARGV[base + 4]) - pending - held)
  redis.call('HSET', key, 'name', ARGV[base + 1], 'price_cents', ARGV[base + 2],
    'currency', ARGV[base + 3], 'available', available, 'held', held, 'pending_sot', pending)
end
return #KEYS - 1
`;

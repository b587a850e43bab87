import type { Clock } from '../../ports/clock.js';
import type {
  IdempotencyClaim,
  IdempotencyStore,
  StoredResponse,
} from '../../ports/idempotency-store.js';
import { DEFAULT_EFFECT_TTL_MS } from '../shared/effect-retention.js';
import type { RedisConnection, RedisScript } from './redis-connection.js';

/**
 * KEYS: record. ARGV: fingerprint, now, ttlMs, claimMs, ref. A record past its `expires_at`
 * counts as absent: expiry is judged by the caller's clock, Redis's own TTL only collects
 * garbage. A claim blocks its key for `claimMs` only; after that (its process died), or once
 * abandoned, the next caller with the same body takes the key over and resumes its ref.
 */
const BEGIN = `
local r = redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'response', 'expires_at',
  'claim_until', 'ref')
local now = tonumber(ARGV[2])
if r[1] and tonumber(r[4]) > now then
  if r[2] ~= ARGV[1] then return {'mismatch'} end
  if r[1] == 'done' then return {'replay', r[3]} end
  if r[1] == 'in_flight' and tonumber(r[5]) > now then return {'in_flight'} end
  redis.call('HSET', KEYS[1], 'state', 'in_flight', 'claim_until', now + tonumber(ARGV[4]))
  return {'resume', r[6]}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fingerprint', ARGV[1],
  'expires_at', now + tonumber(ARGV[3]), 'ttl', ARGV[3], 'claim_until', now + tonumber(ARGV[4]),
  'ref', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'started'}
`;

/** KEYS: record. ARGV: response, now. The TTL starts again from completion. */
const COMPLETE = `
local r = redis.call('HMGET', KEYS[1], 'state', 'ttl')
if r[1] ~= 'in_flight' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'response', ARGV[1],
  'expires_at', tonumber(ARGV[2]) + tonumber(r[2]))
redis.call('PEXPIRE', KEYS[1], r[2])
return 1
`;

/** KEYS: record. A completed key stays: its response is what a retry must get. */
const ABANDON = `
if redis.call('HGET', KEYS[1], 'state') == 'in_flight' then
  redis.call('HSET', KEYS[1], 'state', 'abandoned')
end
return 1
`;

/** KEYS: record. ARGV: ref. */
const REBIND = `
if redis.call('HGET', KEYS[1], 'state') ~= 'in_flight' then return 0 end
redis.call('HSET', KEYS[1], 'ref', ARGV[1])
return 1
`;

/** KEYS: record. A claimed key whose request was refused: free it. */
const RELEASE = `
if redis.call('HGET', KEYS[1], 'state') == 'in_flight' then redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * How long an unfinished claim blocks its key: longer than a request takes. A request still
 * running when its claim is taken over does no harm: both finish the same ref.
 */
const IN_FLIGHT_CLAIM_MS = 10_000;

/**
 * Idempotency keys in Redis, shared by every API process: the claim itself is stored (as
 * `in_flight` with the request's TTL), so two processes never both start one key. Records are
 * hashes at `<ns>:idem:<scope>:<key>`; effects are plain keys at `<ns>:effect:<key>`.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly beginScript: RedisScript;
  private readonly completeScript: RedisScript;
  private readonly abandonScript: RedisScript;
  private readonly releaseScript: RedisScript;
  private readonly rebindScript: RedisScript;

  constructor(
    private readonly connection: RedisConnection,
    private readonly namespace: string,
    private readonly clock: Clock,
    /** How long a done effect is remembered (see `effectTtlMs`). */
    private readonly effectTtlMs = DEFAULT_EFFECT_TTL_MS,
  ) {
    this.beginScript = connection.script('orderflowIdempotencyBegin', BEGIN);
    this.completeScript = connection.script('orderflowIdempotencyComplete', COMPLETE);
    this.abandonScript = connection.script('orderflowIdempotencyAbandon', ABANDON);
    this.releaseScript = connection.script('orderflowIdempotencyRelease', RELEASE);
    this.rebindScript = connection.script('orderflowIdempotencyRebind', REBIND);
  }

  async begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlMs: number,
    ref: string,
  ): Promise<IdempotencyClaim> {
    const reply = await this.beginScript(
      [this.recordKey(scope, key)],
      [fingerprint, this.clock.now(), Math.max(1, Math.ceil(ttlMs)), IN_FLIGHT_CLAIM_MS, ref],
    );
    const [state, detail] = reply as [string, string?];
    switch (state) {
      case 'started':
      case 'in_flight':
      case 'mismatch':
        return { state };
      case 'resume':
        return { state, ref: detail ?? ref };
      case 'replay':
        return { state, response: JSON.parse(detail ?? 'null') as StoredResponse };
      default:
        throw new Error(`unexpected reply of the idempotency script: ${String(state)}`);
    }
  }

  async complete(scope: string, key: string, response: StoredResponse): Promise<void> {
    const stored = await this.completeScript(
      [this.recordKey(scope, key)],
      [JSON.stringify(response), this.clock.now()],
    );
    if (stored !== 1) throw new Error(`idempotency key ${scope}/${key} is not claimed`);
  }

  async abandon(scope: string, key: string): Promise<void> {
    await this.abandonScript([this.recordKey(scope, key)], []);
  }

  async rebind(scope: string, key: string, ref: string): Promise<void> {
    const bound = await this.rebindScript([this.recordKey(scope, key)], [ref]);
    if (bound !== 1) throw new Error(`idempotency key ${scope}/${key} is not claimed`);
  }

  async release(scope: string, key: string): Promise<void> {
    await this.releaseScript([this.recordKey(scope, key)], []);
  }

  async wasDone(key: string): Promise<boolean> {
    return (await this.connection.run((client) => client.exists(this.effectKey(key)))) === 1;
  }

  async markDone(key: string): Promise<void> {
    const at = this.clock.now();
    await this.connection.run((client) =>
      client.set(this.effectKey(key), at, 'PX', this.effectTtlMs, 'NX'),
    );
  }

  /** The connection belongs to the backend that opened it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The scope is URI-encoded, so that a `:` in it cannot make two records one. */
  private recordKey(scope: string, key: string): string {
    return `${this.namespace}:idem:${encodeURIComponent(scope)}:${key}`;
  }

  private effectKey(key: string): string {
    return `${this.namespace}:effect:${key}`;
  }
}

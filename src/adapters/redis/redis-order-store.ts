import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RetryableError } from '../../domain/errors.js';
import { applyTransition, type Order, type TransitionPatch } from '../../domain/order.js';
import {
  isCancellable,
  isTerminal,
  ORDER_STATUSES,
  TRANSITIONS,
  type OrderStatus,
  type Transition,
} from '../../domain/status.js';
import type { EventLog, NewEvent } from '../../ports/event-log.js';
import type { OrderListQuery, OrderStore, SettledOrder } from '../../ports/order-store.js';
import { OrderWatchers } from '../shared/order-watchers.js';
import { closeClient, type RedisConnection, type RedisScript } from './redis-connection.js';

/**
 * KEYS: order, counts, all-orders index, its status's index. ARGV: json, status, channel,
 * message, tombstone, order id. Returns 1 when created, 0 when the order exists, 2 when its
 * id was abandoned (never brought back: a worker may still be settling what it did for it).
 */
const CREATE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  if redis.call('GET', KEYS[1]) == ARGV[5] then return 2 end
  return 0
end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('ZADD', KEYS[3], 0, ARGV[6])
redis.call('ZADD', KEYS[4], 0, ARGV[6])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * KEYS: order, counts, all-orders index, old status's index, new status's index. ARGV:
 * expected json, new json, old status, new status, channel, message, order id. The indexes
 * are written on every change, so that an order stored before they existed joins them. The
 * SET drops the TTL a settled order was given: a moved order stays until settled again.
 * A change of status is also counted as `FROM>TO`, in the counts' hash.
 */
const SWAP = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] ~= ARGV[4] then
  redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. '>' .. ARGV[4], 1)
  redis.call('ZREM', KEYS[4], ARGV[7])
end
redis.call('ZADD', KEYS[3], 0, ARGV[7])
redis.call('ZADD', KEYS[5], 0, ARGV[7])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

/**
 * KEYS: order, counts, all-orders index, its status's index. ARGV: expected json, status,
 * tombstone ttl ms, tombstone, order id. An order the saga has not touched yet becomes a
 * tombstone: it reads as absent, and a create from a late OrderPlaced (a publish that
 * landed after all) cannot bring it back.
 */
const ABANDON = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
redis.call('ZREM', KEYS[3], ARGV[5])
redis.call('ZREM', KEYS[4], ARGV[5])
return 1
`;

/**
 * KEYS: order, all-orders index, its status's index. ARGV: json as read, order id. Indexes
 * an order stored before the indexes existed, unless it changed since it was read (then the
 * change indexed it).
 */
const INDEX = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return 1
`;

/**
 * KEYS: orders-expiring, then one order key per order. ARGV: retention ms, tombstone, then
 * order id and status per order key. An order still in the status the source of truth holds
 * gets the retention as its TTL and is listed in orders-expiring, scored by when its key
 * expires (Redis's clock, the one that expires it). Returns how many were settled.
 */
const SETTLE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
local settled = 0
for i = 2, #KEYS do
  local json = redis.call('GET', KEYS[i])
  if json and json ~= ARGV[2] and cjson.decode(json).status == ARGV[2 * i] then
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[2 * i - 1])
    settled = settled + 1
  end
end
return settled
`;

/**
 * KEYS: orders-expiring, all-orders index, then every status's index. ARGV: order key
 * prefix, batch size. Takes the members of orders-expiring that are due: one whose order key
 * is gone (expired) leaves every index; one whose key was moved since (persisted) is only
 * dropped from orders-expiring; one whose key still has a TTL is scored anew by it. Returns
 * {members taken, orders removed}.
 */
const EVICT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, id in ipairs(due) do
  local left = redis.call('PTTL', ARGV[1] .. id)
  if left > 0 then
    redis.call('ZADD', KEYS[1], now + left, id)
  else
    redis.call('ZREM', KEYS[1], id)
    if left == -2 then
      for i = 2, #KEYS do redis.call('ZREM', KEYS[i], id) end
      removed = removed + 1
    end
  end
end
return {#due, removed}
`;

/** KEYS: order. ARGV: tombstone, ttl ms. An id never created is abandoned: 1; an existing order: 0. */
const ABANDON_ABSENT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`;

/** What an abandoned order's key holds. */
const TOMBSTONE = 'abandoned';

/** How long an abandoned order's tombstone stays: longer than any event is redelivered. */
const TOMBSTONE_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** A compare-and-set that loses this often in a row means something is badly wrong. */
const MAX_SWAP_ATTEMPTS = 16;

/** Order keys read per SCAN step while indexing the orders stored before the indexes. */
const INDEX_BATCH = 500;

/** Orders settled, and members of orders-expiring taken, per script call. */
const RETENTION_BATCH = 500;

/** How long a watched order is re-read after a reconnection, while reads still fail. */
const REFRESH_ATTEMPTS = 40;
const REFRESH_RETRY_MS = 250;

type Listener = (order: Order) => void;

/**
 * The order cache in Redis: the order as JSON at `<ns>:order:<id>`, counts per status (and per `FROM>TO` step) in
 * `<ns>:order-counts`. Writes are compare-and-set scripts on the whole stored JSON, so
 * every change (including a concurrent cancel request) is applied on what it was computed
 * from. Events are appended to the log after the write; see `OrderStore`.
 *
 * `list` reads sorted sets of order ids, all at score 0 so that they are ordered by id
 * (`ZREVRANGEBYLEX`: newest first for time-ordered ids): `<ns>:orders-by-id` holds every
 * order, `<ns>:orders-by-status:<STATUS>` those in that status. The same scripts that write
 * an order keep them, so an index never disagrees with the order it points at. Orders
 * stored by a version before the indexes are indexed once per namespace by
 * `indexExisting` (and any order joins them at its next change); until then they are not
 * listed. A page checks each listed order's status as it reads it, so an entry left stale by
 * an older version's process during a rolling upgrade is skipped, never shown.
 *
 * Retention: `settled` gives a terminal order the order retention as its key's TTL, so Redis
 * itself removes it, and lists it in `<ns>:orders-expiring` (scored by its expiry), from
 * where `evictSettled` takes it out of the listing indexes once the key is gone. Every
 * write that moves an order is a plain SET, which drops the TTL: an order moved after it
 * was settled (a COMPLETED order being refunded) stays until it is settled again. The
 * counts per status keep the evicted orders.
 *
 * Every change is published on `<ns>:order-changed` as `<store instance>|<order id>`, from
 * inside the script that made it. Watchers in this process are told at once; other
 * processes read the order when the message arrives.
 */
export class RedisOrderStore implements OrderStore {
  private readonly createScript: RedisScript;
  private readonly swapScript: RedisScript;
  private readonly abandonScript: RedisScript;
  private readonly abandonAbsentScript: RedisScript;
  private readonly indexScript: RedisScript;
  private readonly settleScript: RedisScript;
  private readonly evictScript: RedisScript;
  readonly commitsWithLog = false;
  private readonly countsKey: string;
  private readonly allKey: string;
  private readonly expiringKey: string;
  /** Set once the orders stored before the indexes have been indexed. */
  private readonly indexedKey: string;
  private closed = false;
  private readonly channel: string;
  private readonly instance = randomBytes(8).toString('hex');
  private readonly watchers = new OrderWatchers();
  private subscriber: Redis | undefined;
  private subscription: Promise<void> | undefined;

  constructor(
    private readonly connection: RedisConnection,
    private readonly namespace: string,
    private readonly log: EventLog,
    /** How long a settled order stays (`RetentionPolicy.orderMs`); 0: for good. */
    private readonly orderMs = 0,
  ) {
    this.createScript = connection.script('orderflowOrderCreate', CREATE);
    this.swapScript = connection.script('orderflowOrderSwap', SWAP);
    this.abandonScript = connection.script('orderflowOrderAbandon', ABANDON);
    this.abandonAbsentScript = connection.script('orderflowOrderAbandonAbsent', ABANDON_ABSENT);
    this.indexScript = connection.script('orderflowOrderIndex', INDEX);
    this.settleScript = connection.script('orderflowOrderSettle', SETTLE);
    this.evictScript = connection.script('orderflowOrderEvict', EVICT);
    this.countsKey = `${namespace}:order-counts`;
    this.allKey = `${namespace}:orders-by-id`;
    this.expiringKey = `${namespace}:orders-expiring`;
    this.indexedKey = `${namespace}:orders-indexed`;
    this.channel = `${namespace}:order-changed`;
  }

  async create(order: Order, events: readonly NewEvent[] = []): Promise<void> {
    const json = JSON.stringify(order);
    const keys = [
      this.orderKey(order.orderId),
      this.countsKey,
      this.allKey,
      this.statusKey(order.status),
    ];
    const created = await this.createScript(keys, [
      json,
      order.status,
      this.channel,
      this.message(order.orderId),
      TOMBSTONE,
      order.orderId,
    ]);
    if (created === 2 && events.length > 0) {
      throw new RetryableError('order_abandoned', `order ${order.orderId} was abandoned`, 1000);
    }
    if (created !== 1) return;
    if (events.length > 0) {
      try {
        await this.log.append(events);
      } catch (error) {
        // The append may have landed all the same (an ack lost or late). The order is
        // abandoned for good unless the saga already took it on: then its OrderPlaced is
        // on the log and the order lives.
        const abandoned = await this.abandonScript(keys, [
          json,
          order.status,
          TOMBSTONE_TTL_MS,
          TOMBSTONE,
          order.orderId,
        ]);
        if (abandoned === 1) throw error;
      }
    }
    this.watchers.notify(order);
  }

  async abandon(orderId: string): Promise<boolean> {
    const done = await this.abandonAbsentScript(
      [this.orderKey(orderId)],
      [TOMBSTONE, TOMBSTONE_TTL_MS],
    );
    return done === 1;
  }

  async get(orderId: string): Promise<Order | undefined> {
    const json = await this.read(orderId);
    return json === null || json === TOMBSTONE ? undefined : (JSON.parse(json) as Order);
  }

  async transition(
    orderId: string,
    from: OrderStatus,
    to: OrderStatus,
    at: string,
    patch?: TransitionPatch,
    events?: (moved: Order) => readonly NewEvent[],
  ): Promise<Order | undefined> {
    const result = await this.change(orderId, (order) =>
      order.status === from ? applyTransition(order, to, at, patch) : undefined,
    );
    if (!result?.changed) return undefined;
    try {
      const emitted = events?.(result.order) ?? [];
      if (emitted.length > 0) await this.log.append(emitted);
    } finally {
      this.watchers.notify(result.order);
    }
    return result.order;
  }

  async requestCancel(orderId: string): Promise<Order | undefined> {
    const result = await this.change(orderId, (order) =>
      order.cancelRequested || !isCancellable(order.status)
        ? undefined
        : { ...order, cancelRequested: true },
    );
    if (result?.changed) this.watchers.notify(result.order);
    return result?.order;
  }

  watch(orderId: string, listener: Listener): () => void {
    void this.watching().catch(() => undefined);
    return this.watchers.add(orderId, listener);
  }

  /**
   * Resolves once changes made by other processes reach this store's watchers (the backend
   * awaits it before the process serves). Pub/sub is at most once and says nothing while it
   * reconnects, so after every reconnection the watched orders are read again: a watcher
   * may then be told of an order it already saw, never left without one it missed.
   */
  watching(): Promise<void> {
    if (!this.subscription) {
      const subscriber = this.connection.subscriber();
      subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
      let reconnect = false;
      subscriber.on('ready', () => {
        if (reconnect) for (const orderId of this.watchers.ids()) this.refresh(orderId);
        reconnect = true;
      });
      this.subscriber = subscriber;
      this.subscription = subscriber.subscribe(this.channel).then(() => undefined);
    }
    return this.subscription;
  }

  /** Only a terminal status lets an order go: one still moving stays, whatever the SoT says. */
  async settled(orders: readonly SettledOrder[]): Promise<void> {
    if (this.orderMs <= 0) return;
    const finished = orders.filter(({ status }) => isTerminal(status));
    for (let start = 0; start < finished.length; start += RETENTION_BATCH) {
      const batch = finished.slice(start, start + RETENTION_BATCH);
      await this.settleScript(
        [this.expiringKey, ...batch.map(({ orderId }) => this.orderKey(orderId))],
        [this.orderMs, TOMBSTONE, ...batch.flatMap(({ orderId, status }) => [orderId, status])],
      );
    }
  }

  /**
   * Runs whatever the retention now is: orders given a TTL under an earlier, shorter one
   * still leave the indexes when Redis expires them.
   */
  async evictSettled(): Promise<number> {
    const keys = [this.expiringKey, this.allKey, ...ORDER_STATUSES.map((s) => this.statusKey(s))];
    let removed = 0;
    for (;;) {
      const reply = (await this.evictScript(keys, [this.orderKey(''), RETENTION_BATCH])) as [
        number,
        number,
      ];
      removed += reply[1];
      if (reply[0] < RETENTION_BATCH || this.closed) return removed;
    }
  }

  countByStatus(): Promise<Partial<Record<OrderStatus, number>>> {
    return this.counted(ORDER_STATUSES);
  }

  countTransitions(): Promise<Partial<Record<Transition, number>>> {
    return this.counted(TRANSITIONS);
  }

  /** The counts' hash, those of `fields` above 0 (it holds statuses and steps). */
  private async counted<K extends string>(
    fields: readonly K[],
  ): Promise<Partial<Record<K, number>>> {
    const stored = await this.connection.run((client) => client.hgetall(this.countsKey));
    const counts: Partial<Record<K, number>> = {};
    for (const field of fields) {
      const n = Number(stored[field] ?? 0);
      if (n > 0) counts[field] = n;
    }
    return counts;
  }

  async list({ status, before, limit }: OrderListQuery): Promise<Order[]> {
    const index = status === undefined ? this.allKey : this.statusKey(status);
    const found: Order[] = [];
    let max = before === undefined ? '+' : `(${before}`;
    while (found.length < limit) {
      const wanted = limit - found.length;
      const ids = await this.connection.run((client) =>
        client.zrevrangebylex(index, max, '-', 'LIMIT', 0, wanted),
      );
      const last = ids.at(-1);
      if (last === undefined) break;
      const stored = await this.connection.run((client) =>
        client.mget(ids.map((id) => this.orderKey(id))),
      );
      for (const json of stored) {
        if (json === null || json === TOMBSTONE) continue;
        const order = JSON.parse(json) as Order;
        // Moved since the index was read, or a stale entry: not in this status now.
        if (status === undefined || order.status === status) found.push(order);
      }
      if (ids.length < wanted) break;
      max = `(${last}`;
    }
    return found;
  }

  /**
   * Indexes for `list` the orders stored before the indexes existed (by an older version),
   * once per namespace: a SCAN of the order keys, each order added under the status it has
   * when the script runs. Resolves to how many orders it found (those that were indexed
   * already, by a change, included; 0 when it ran before for the namespace). Stops
   * early when the store closes; the next start then goes through it again.
   */
  async indexExisting(): Promise<number> {
    const done = await this.connection.run((client) => client.exists(this.indexedKey));
    if (done === 1) return 0;
    const prefix = this.orderKey('');
    let cursor = '0';
    let indexed = 0;
    do {
      if (this.closed) return indexed;
      const [next, keys] = await this.connection.run((client) =>
        client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', INDEX_BATCH),
      );
      cursor = next;
      const stored = keys.length === 0 ? [] : await this.connection.run((c) => c.mget(keys));
      const results = await Promise.all(
        keys.map(async (key, i) => {
          const json = stored[i];
          if (json === null || json === undefined || json === TOMBSTONE) return 0;
          const { status } = JSON.parse(json) as Order;
          const id = key.slice(prefix.length);
          return this.indexScript([key, this.allKey, this.statusKey(status)], [json, id]);
        }),
      );
      indexed += results.filter((result) => result === 1).length;
    } while (cursor !== '0');
    await this.connection.run((client) => client.set(this.indexedKey, new Date().toISOString()));
    return indexed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.subscription = undefined;
    if (subscriber) await closeClient(subscriber);
  }

  /**
   * Reads the order, lets `decide` compute its next state and stores that by compare-and-
   * set, reading again when another write came in between. `changed` is false when
   * `decide` declined (the order as read is returned); undefined for an unknown order.
   */
  private async change(
    orderId: string,
    decide: (order: Order) => Order | undefined,
  ): Promise<{ order: Order; changed: boolean } | undefined> {
    for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt += 1) {
      const json = await this.read(orderId);
      if (json === null || json === TOMBSTONE) return undefined;
      const order = JSON.parse(json) as Order;
      const next = decide(order);
      if (!next) return { order, changed: false };
      const swapped = await this.swapScript(
        [
          this.orderKey(orderId),
          this.countsKey,
          this.allKey,
          this.statusKey(order.status),
          this.statusKey(next.status),
        ],
        [
          json,
          JSON.stringify(next),
          order.status,
          next.status,
          this.channel,
          this.message(orderId),
          orderId,
        ],
      );
      if (swapped === 1) return { order: next, changed: true };
    }
    throw new RetryableError('order_contended', `order ${orderId} keeps changing; retry`, 100);
  }

  private read(orderId: string): Promise<string | null> {
    return this.connection.run((client) => client.get(this.orderKey(orderId)));
  }

  private onMessage(message: string): void {
    const separator = message.indexOf('|');
    if (message.slice(0, separator) === this.instance) return;
    this.refresh(message.slice(separator + 1));
  }

  /**
   * Reads a watched order and tells its watchers. The commands' connection may come back
   * after the subscriber's: a failed read is tried again for a while.
   */
  private refresh(orderId: string, attempt = 0): void {
    if (!this.watchers.watched(orderId)) return;
    this.get(orderId).then(
      (order) => order && this.watchers.notify(order),
      () => {
        if (attempt >= REFRESH_ATTEMPTS) return;
        setTimeout(() => this.refresh(orderId, attempt + 1), REFRESH_RETRY_MS).unref();
      },
    );
  }

  private message(orderId: string): string {
    return `${this.instance}|${orderId}`;
  }

  private orderKey(orderId: string): string {
    return `${this.namespace}:order:${orderId}`;
  }

  private statusKey(status: OrderStatus): string {
    return `${this.namespace}:orders-by-status:${status}`;
  }
}

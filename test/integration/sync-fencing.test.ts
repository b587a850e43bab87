import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisLease } from '../../src/adapters/redis/redis-lease.js';
import { RedisOrderStore } from '../../src/adapters/redis/redis-order-store.js';
import { RedisStockStore } from '../../src/adapters/redis/redis-stock-store.js';
import { RedisSyncOutbox } from '../../src/adapters/redis/redis-sync-outbox.js';
import { openSqliteBackend } from '../../src/adapters/sqlite/sqlite-backend.js';
import { SqliteEventLog } from '../../src/adapters/sqlite/sqlite-event-log.js';
import type { Order } from '../../src/domain/order.js';
import type { Lease } from '../../src/ports/lease.js';
import type { SourceOfTruth } from '../../src/ports/source-of-truth.js';
import { SourceOfTruthSync, type SyncDeps } from '../../src/workflow/sync.js';
import { systemClock } from '../contract/fixture.js';
import { makeOrder, sleep } from '../contract/support.js';
import { deleteNamespace, openRedis } from '../helpers/backends-redis.js';
import { postgresSotFixture } from '../helpers/backends-postgres.js';
import { enginesUp, randomNamespace } from '../helpers/engines.js';

const usd = (amount: number) => ({ amount, currency: 'USD' });
const SKU = 'X1';
const LEASE_TTL_MS = 300;

/** The ports of one process; `SyncDeps` without the clock. */
type ProcessDeps = Omit<SyncDeps, 'clock'>;

/** Two processes on shared engines: each with its own adapters (and connections). */
interface World {
  readonly processes: readonly [ProcessDeps, ProcessDeps];
  close(): Promise<void>;
}

async function sqliteWorld(): Promise<World> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-sync-fence-'));
  const one = openSqliteBackend(dir, systemClock);
  const two = openSqliteBackend(dir, systemClock);
  return {
    processes: [one, two],
    close: async () => {
      await Promise.all([one.close(), two.close()]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

async function redisPostgresWorld(): Promise<World> {
  const namespace = randomNamespace('sync');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-sync-fence-'));
  const sotFixture = await postgresSotFixture();
  const connections = await Promise.all([openRedis(), openRedis()]);
  const logs = connections.map(() => new SqliteEventLog(path.join(dir, 'log.db'), systemClock));
  const process = (index: 0 | 1): ProcessDeps => {
    const connection = connections[index];
    const log = logs[index];
    if (!connection || !log) throw new Error('no such process');
    return {
      sot: sotFixture.open(systemClock),
      stock: new RedisStockStore(connection, namespace),
      orders: new RedisOrderStore(connection, namespace, log),
      outbox: new RedisSyncOutbox(connection, namespace, systemClock),
      lease: new RedisLease(connection, namespace),
    };
  };
  const processes = [process(0), process(1)] as const;
  return {
    processes,
    close: async () => {
      await Promise.all(processes.map((deps) => deps.orders.close()));
      await Promise.all(logs.map((log) => log.close()));
      const [first] = connections;
      if (first) await deleteNamespace(first, namespace);
      await Promise.all(connections.map((connection) => connection.close()));
      await sotFixture.dispose();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A door the test opens: what waits at it, waits until then. */
class Gate {
  open: () => void = () => undefined;
  arrive: () => void = () => undefined;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  /** Someone arrived at the door. */
  readonly reached = new Promise<void>((resolve) => (this.arrive = resolve));
}

/**
 * A process that pauses (a long GC, a stopped VM) right after reading the products: its
 * read is done, and nothing it does goes on, lease renewals included, until the gate opens.
 */
function pausedAfterRead(deps: ProcessDeps, gate: Gate): ProcessDeps {
  const sot: SourceOfTruth = Object.assign(Object.create(deps.sot) as SourceOfTruth, {
    products: async () => {
      const products = await deps.sot.products();
      gate.arrive();
      await gate.opened;
      return products;
    },
  });
  let takes = 0;
  const lease: Lease = {
    acquire: async (...args) => {
      if (takes++ > 0) await gate.opened;
      return deps.lease.acquire(...args);
    },
    release: async (...args) => {
      await gate.opened;
      return deps.lease.release(...args);
    },
  };
  return { ...deps, sot, lease };
}

/** Counts calls into the source of truth that overlap, from whichever process. */
class Overlaps {
  private active = 0;
  max = 0;

  watch(deps: ProcessDeps): ProcessDeps {
    const slow =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        this.active += 1;
        this.max = Math.max(this.max, this.active);
        try {
          await sleep(15);
          return await call(...args);
        } finally {
          this.active -= 1;
        }
      };
    const { sot } = deps;
    const watched: SourceOfTruth = Object.assign(Object.create(sot) as SourceOfTruth, {
      products: slow(() => sot.products()),
      applyOrders: slow((orders: readonly Order[]) => sot.applyOrders(orders)),
      putProduct: slow((product: Parameters<SourceOfTruth['putProduct']>[0]) =>
        sot.putProduct(product),
      ),
    });
    return { ...deps, sot: watched };
  }
}

const redisAndPostgres = await enginesUp('redis', 'postgres');
const WORLDS = [
  { name: 'sqlite', open: sqliteWorld, up: true },
  { name: 'redis + postgres', open: redisPostgresWorld, up: redisAndPostgres },
];

for (const { name, open, up } of WORLDS) {
  describe.skipIf(!up)(`${name}: sync across processes`, () => {
    let world: World;

    beforeEach(async () => {
      world = await open();
    });
    afterEach(async () => {
      await world.close();
    });

    const sync = (deps: ProcessDeps) =>
      new SourceOfTruthSync({ ...deps, clock: systemClock, leaseTtlMs: LEASE_TTL_MS });

    /** A COMPLETED order of `qty` X1: sold in the stock cache, waiting in the outbox. */
    const sell = async (deps: ProcessDeps, qty: number): Promise<Order> => {
      const order = makeOrder({
        status: 'COMPLETED',
        items: [{ sku: SKU, qty, unitPrice: usd(100) }],
        total: usd(100 * qty),
      });
      await deps.orders.create(order);
      const reserved = await deps.stock.reserve(order.orderId, order.items, Date.now() + 60_000);
      expect(reserved.ok).toBe(true);
      await deps.stock.commit(order.orderId);
      await deps.outbox.add(order.orderId, 'COMPLETED');
      return order;
    };

    const levels = async (deps: ProcessDeps) => ({
      available: (await deps.stock.items([SKU])).get(SKU)?.available,
      onHand: (await deps.sot.product(SKU))?.onHand,
    });

    it('refuses the stale result of a sync-in paused past its lease: no over-count', async () => {
      const [one, two] = world.processes;
      const gate = new Gate();
      const paused = sync(pausedAfterRead(one, gate));
      const other = sync(two);
      await other.putProduct({ sku: SKU, name: 'x', price: usd(100), onHand: 10 });

      const staleRun = paused.syncIn();
      staleRun.catch(() => undefined);
      await gate.reached; // it read on_hand 10, and stalls
      await sell(two, 3);
      expect(await levels(two)).toEqual({ available: 7, onHand: 10 });
      // The other process waits out the paused one's lease, then syncs the sale: on_hand 7.
      expect(await other.syncOut()).toBe(1);
      gate.open();

      await expect(staleRun).rejects.toMatchObject({ code: 'sync_superseded' });
      expect(await levels(two)).toEqual({ available: 7, onHand: 7 });
      expect(await other.syncIn()).toBe(1);
      expect(await levels(two)).toEqual({ available: 7, onHand: 7 });
    });

    it('never overlaps the runs of two processes, sync-in and sync-out alike', async () => {
      const [one, two] = world.processes;
      const overlaps = new Overlaps();
      const a = sync(overlaps.watch(one));
      const b = sync(overlaps.watch(two));
      await a.putProduct({ sku: SKU, name: 'x', price: usd(100), onHand: 100 });
      let sold = 0;
      for (let round = 0; round < 4; round += 1) {
        await sell(round % 2 === 0 ? one : two, 2);
        sold += 2;
        await Promise.all([a.syncIn(), b.syncIn(), a.syncOut(), b.syncOut(), b.syncIn()]);
        expect(await levels(one)).toEqual({ available: 100 - sold, onHand: 100 - sold });
      }
      expect(overlaps.max).toBe(1);
      expect(await one.outbox.size()).toBe(0);
    });
  });
}

/**
 * The DESIGN invariants, checked from outside: through the API and the source-of-truth
 * file. Each check returns its violations as readable strings (empty = holds), so a test
 * asserts `toEqual([])` and a failure says exactly what broke.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { historyStatuses, isTerminal, type OrderView } from './api.js';
import type { Service } from './service.js';
import { sotItems, sotOrders, sotPath, sotProduct } from './sot.js';
import { mapLimit, sleep } from './wait.js';

/**
 * Invariant 1 for one order: its current status is terminal and its history holds exactly
 * one terminal status, the one exception being COMPLETED followed by REFUNDED. No status twice.
 */
export function terminalOnceViolation(order: OrderView): string | undefined {
  const statuses = historyStatuses(order);
  const terminals = statuses.filter(isTerminal);
  const where = `order ${order.orderId} (history ${statuses.join('→')})`;
  if (!isTerminal(order.status)) return `${where} is not terminal: ${order.status}`;
  if (statuses[statuses.length - 1] !== order.status)
    return `${where}: last history entry is not its status ${order.status}`;
  if (new Set(statuses).size !== statuses.length) return `${where}: a status appears twice`;
  const refundedAfterCompleted =
    terminals.length === 2 && terminals[0] === 'COMPLETED' && terminals[1] === 'REFUNDED';
  if (terminals.length !== 1 && !refundedAfterCompleted)
    return `${where}: ${terminals.length} terminal statuses`;
  return undefined;
}

/** Invariant 1 over orders already fetched. */
export function terminalOnceViolations(orders: Iterable<OrderView>): string[] {
  const violations: string[] = [];
  for (const order of orders) {
    const violation = terminalOnceViolation(order);
    if (violation) violations.push(violation);
  }
  return violations;
}

/** Fetches every order (admin key) as it is now. */
export async function fetchOrders(
  service: Service,
  orderIds: readonly string[],
): Promise<Map<string, OrderView>> {
  const views = await mapLimit(orderIds, 16, (orderId) => service.getOrder(orderId, 'admin'));
  return new Map(views.map((view) => [view.orderId, view]));
}

/** Invariant 1 for orders answered 202: fetched now, each must be terminal exactly once. */
export async function checkEveryOrderTerminalOnce(
  service: Service,
  orderIds: readonly string[],
): Promise<string[]> {
  return terminalOnceViolations((await fetchOrders(service, orderIds)).values());
}

/** Σ qty of `sku` over the orders whose current status is COMPLETED. */
export function soldQty(orders: Iterable<OrderView>, sku: string): number {
  let sold = 0;
  for (const order of orders) {
    if (order.status !== 'COMPLETED') continue;
    for (const line of order.items) if (line.sku === sku) sold += line.qty;
  }
  return sold;
}

export interface StockCheck {
  readonly violations: string[];
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
  readonly onHand: number;
}

/**
 * Invariant 2 for one SKU: `supplied` (initial on hand + restocks) = available + reserved +
 * Σ qty of COMPLETED orders, and `reserved` not below zero. `orders` must be every order
 * that ever touched the SKU. No `available ≥ 0` here: the stock cache clamps it at zero, so
 * an oversold SKU shows as available 0 and is caught by the equation instead (available +
 * reserved + sold > supplied); `watchStock` samples the unclamped value during a run.
 */
export async function checkStockConservation(
  service: Service,
  sku: string,
  supplied: number,
  orders: Iterable<OrderView>,
): Promise<StockCheck> {
  const product = await service.adminProduct(sku);
  const sold = soldQty(orders, sku);
  const violations: string[] = [];
  if (product.reserved < 0) violations.push(`${sku}: reserved ${product.reserved} < 0`);
  if (product.available + product.reserved + sold !== supplied) {
    violations.push(
      `${sku}: supplied ${supplied} ≠ available ${product.available} + reserved ${product.reserved} + sold ${sold}`,
    );
  }
  return {
    violations,
    available: product.available,
    reserved: product.reserved,
    sold,
    onHand: product.onHand,
  };
}

/**
 * Invariant 5, once: the SoT holds every given terminal order exactly once with its status
 * and lines (and, with `exhaustive`, no other order); per SKU its `on_hand` equals the stock
 * cache's available + reserved, and the admin API's `onHand` is the SoT's.
 */
export async function sotViolations(
  service: Service,
  orders: Iterable<OrderView>,
  skus: readonly string[],
  exhaustive = true,
): Promise<string[]> {
  const violations: string[] = [];
  const rows = sotOrders(service.dataDir);
  const items = sotItems(service.dataDir);
  const expected = new Map<string, OrderView>();
  for (const order of orders) if (isTerminal(order.status)) expected.set(order.orderId, order);

  const rowsById = new Map<string, number>();
  for (const row of rows) rowsById.set(row.order_id, (rowsById.get(row.order_id) ?? 0) + 1);
  for (const [orderId, order] of expected) {
    const count = rowsById.get(orderId) ?? 0;
    if (count !== 1) {
      violations.push(`SoT has order ${orderId} (${order.status}) ${count} times`);
      continue;
    }
    const row = rows.find((r) => r.order_id === orderId);
    if (row && row.status !== order.status)
      violations.push(`SoT order ${orderId} is ${row.status}, API says ${order.status}`);
    if (row && row.total_cents !== order.total.amount) {
      violations.push(`SoT order ${orderId} total ${row.total_cents} ≠ ${order.total.amount}`);
    }
    const lines = items.filter((item) => item.order_id === orderId);
    for (const line of order.items) {
      const match = lines.filter((l) => l.sku === line.sku);
      if (match.length !== 1 || match[0]?.qty !== line.qty) {
        violations.push(
          `SoT order_items for ${orderId}/${line.sku}: ${JSON.stringify(match)}, expected qty ${line.qty}`,
        );
      }
    }
  }
  if (exhaustive) {
    const extra = rows.filter((row) => !expected.has(row.order_id));
    if (extra.length > 0)
      violations.push(`SoT has ${extra.length} unexpected orders, e.g. ${extra[0]?.order_id}`);
  }

  for (const sku of skus) {
    const product = await service.adminProduct(sku);
    const sot = sotProduct(service.dataDir, sku);
    if (!sot) {
      violations.push(`SoT has no product ${sku}`);
      continue;
    }
    if (sot.on_hand !== product.available + product.reserved) {
      violations.push(
        `${sku}: SoT on_hand ${sot.on_hand} ≠ available ${product.available} + reserved ${product.reserved}`,
      );
    }
    if (product.onHand !== sot.on_hand)
      violations.push(`${sku}: admin onHand ${product.onHand} ≠ SoT on_hand ${sot.on_hand}`);
  }
  return violations;
}

/**
 * Invariant 5 after quiescence: polls until the SoT agrees (sync-out runs on its own
 * schedule) and answers the violations left at the deadline (empty when it converged).
 */
export async function waitForSotConsistent(
  service: Service,
  orders: Iterable<OrderView>,
  skus: readonly string[],
  options: { timeoutMs?: number; exhaustive?: boolean } = {},
): Promise<string[]> {
  const list = [...orders];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    let violations: string[];
    try {
      violations = await sotViolations(service, list, skus, options.exhaustive ?? true);
    } catch (error) {
      violations = [
        `cannot check the SoT: ${error instanceof Error ? error.message : String(error)}`,
      ];
    }
    if (violations.length === 0 || Date.now() > deadline) return violations;
    await sleep(200);
  }
}

/**
 * The unclamped `available` of an embedded service's SKU, read from its files: the SoT's
 * on_hand, minus what is sold but not yet taken there, plus what is returned but still taken
 * there, minus what is held — what sync-in would compute before clamping at zero. The SoT is
 * read first, then the stock cache: the cache is never behind the SoT's view of an order, so
 * the two reads agree. Undefined while the files or the SKU are not there yet.
 */
export function rawAvailable(dataDir: string, sku: string): number | undefined {
  const sot = withReadonly(sotPath(dataDir), (db) =>
    db.transaction(() => ({
      product: db.prepare('SELECT on_hand FROM products WHERE sku = ?').get(sku) as
        { on_hand: number } | undefined,
      taken: db
        .prepare(
          `SELECT i.order_id FROM order_items i JOIN orders o ON o.order_id = i.order_id
           WHERE i.sku = ? AND o.status = 'COMPLETED'`,
        )
        .all(sku) as { order_id: string }[],
    }))(),
  );
  if (!sot.product) return undefined;
  const takenBySot = new Set(sot.taken.map((row) => row.order_id));
  const reservations = withReadonly(
    path.join(dataDir, 'orderflow.db'),
    (db) =>
      db
        .prepare(
          `SELECT order_id, qty, state FROM reservations
           WHERE sku = ? AND state IN ('held', 'committed', 'returned')`,
        )
        .all(sku) as { order_id: string; qty: number; state: string }[],
  );
  let available = sot.product.on_hand;
  for (const { order_id: orderId, qty, state } of reservations) {
    if (state === 'held' || (state === 'committed' && !takenBySot.has(orderId))) available -= qty;
    else if (state === 'returned' && takenBySot.has(orderId)) available += qty;
  }
  return available;
}

function withReadonly<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2_000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

export interface StockWatch {
  /** Stops watching; answers every moment the SKU's unclamped `available` was below zero. */
  stop(): Promise<string[]>;
}

/**
 * Invariant 2's "available ≥ 0 at every moment" for an embedded service: samples
 * `rawAvailable` every `intervalMs` until stopped (the API's `available` is clamped, so it
 * could not show a negative).
 */
export function watchStock(service: Service, sku: string, intervalMs = 20): StockWatch {
  const negatives: string[] = [];
  let watching = true;
  let samples = 0;
  let lastError: unknown;
  const loop = (async () => {
    while (watching) {
      try {
        const available = rawAvailable(service.dataDir, sku);
        if (available !== undefined) samples += 1;
        if (available !== undefined && available < 0)
          negatives.push(`${sku}: unclamped available ${available}`);
      } catch (error) {
        // the service may be restarting or have a file locked; the next sample counts
        lastError = error;
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      // A watch that never read anything proved nothing.
      if (samples === 0) negatives.push(`${sku}: never sampled (${String(lastError)})`);
      return negatives;
    },
  };
}

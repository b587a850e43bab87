/**
 * The DESIGN invariants, checked from outside: through the API and the source-of-truth
 * file. Each check returns its violations as readable strings (empty = holds), so a test
 * asserts `toEqual([])` and a failure says exactly what broke.
 */
import { historyStatuses, isTerminal, type OrderView } from './api.js';
import type { Service } from './service.js';
import { sotItems, sotOrders, sotProduct } from './sot.js';
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
 * Σ qty of COMPLETED orders, with `available` and `reserved` never below zero. `orders`
 * must be every order that ever touched the SKU.
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
  if (product.available < 0) violations.push(`${sku}: available ${product.available} < 0`);
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

export interface StockWatch {
  /** Stops watching; answers every moment `available` or `reserved` was seen below zero. */
  stop(): Promise<string[]>;
}

/** Invariant 2's "available ≥ 0 at every moment": samples the SKU every `intervalMs` until stopped. */
export function watchStock(service: Service, sku: string, intervalMs = 20): StockWatch {
  const negatives: string[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      try {
        const { available, reserved } = await service.adminProduct(sku);
        if (available < 0 || reserved < 0)
          negatives.push(`${sku}: available ${available}, reserved ${reserved}`);
      } catch {
        // the service may be restarting; the next sample counts
      }
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return negatives;
    },
  };
}

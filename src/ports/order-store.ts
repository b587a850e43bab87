import type { Order, TransitionPatch } from '../domain/order.js';
import type { OrderStatus } from '../domain/status.js';

/**
 * The order cache: every order's current state, read by the API and moved by the saga.
 * Every write is idempotent or compare-and-set, so that two processes (or a redelivered
 * event) can never move one order twice.
 */
export interface OrderStore {
  /** Stores a new order; a second create of the same id changes nothing. */
  create(order: Order): Promise<void>;

  get(orderId: string): Promise<Order | undefined>;

  /**
   * Moves the order from `from` to `to` (compare-and-set), appending to its history.
   * Resolves to the updated order, or undefined when it was not in `from`.
   */
  transition(
    orderId: string,
    from: OrderStatus,
    to: OrderStatus,
    at: string,
    patch?: TransitionPatch,
  ): Promise<Order | undefined>;

  /**
   * Marks a cancel as requested while the status allows one (see `isCancellable`).
   * Resolves to the order as it is after the call, or undefined when unknown.
   */
  requestCancel(orderId: string): Promise<Order | undefined>;

  /** Calls `listener` with the order after every change of it; returns the unsubscribe. */
  watch(orderId: string, listener: (order: Order) => void): () => void;

  /** Orders by current status. */
  countByStatus(): Promise<Partial<Record<OrderStatus, number>>>;

  close(): Promise<void>;
}

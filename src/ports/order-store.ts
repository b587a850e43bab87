import type { Order, TransitionPatch } from '../domain/order.js';
import type { OrderStatus, Transition } from '../domain/status.js';
import type { NewEvent } from './event-log.js';

/**
 * The order cache: every order's current state, read by the API and moved by the saga.
 * Every write is idempotent or compare-and-set, so that two processes (or a redelivered
 * event) can never move one order twice.
 *
 * A write may carry the events it emits. A store that shares a transaction with the event
 * log (SQLite) commits them together with the change; one that cannot appends them right
 * after the change succeeded, and the events' deterministic ids make the caller's republish
 * after a crash in between harmless.
 */
export interface OrderStore {
  /**
   * True when a write and the events it emits commit in one transaction, and writes
   * issued in the same tick join that commit (SQLite's group commit): then a record that
   * must exist exactly when the order does (the idempotency answer) is written beside it.
   * False when the events are appended after the change (Redis + NATS): then the order
   * exists for good only once `create` has resolved.
   */
  readonly commitsWithLog: boolean;

  /**
   * Stores a new order and emits `events`; a second create of the same id changes nothing.
   * When it rejects, the order does not exist and never will: a store that could not
   * append the events abandons the order (the saga finds nothing to drive, also when the
   * append did land after all), unless the saga had already taken it on, and then it
   * resolves, since the order lives. An abandoned id is never brought back.
   */
  create(order: Order, events?: readonly NewEvent[]): Promise<void>;

  get(orderId: string): Promise<Order | undefined>;

  /**
   * Makes sure an order id that was never created never will be (a retry that resumes an
   * attempt which failed before its order existed, or whose order was abandoned): true when
   * the id is dead for good, false when the order exists. Placing a dead id (`create` with
   * events) then rejects with a RetryableError `order_abandoned`.
   */
  abandon(orderId: string): Promise<boolean>;

  /**
   * Moves the order from `from` to `to` (compare-and-set), appending to its history, and
   * emits `events(order)` for the moved order. Resolves to the updated order, or undefined
   * (and emits nothing) when it was not in `from`.
   */
  transition(
    orderId: string,
    from: OrderStatus,
    to: OrderStatus,
    at: string,
    patch?: TransitionPatch,
    events?: (moved: Order) => readonly NewEvent[],
  ): Promise<Order | undefined>;

  /**
   * Marks a cancel as requested while the status allows one (see `isCancellable`).
   * Resolves to the order as it is after the call, or undefined when unknown.
   */
  requestCancel(orderId: string): Promise<Order | undefined>;

  /** Calls `listener` with the order after every change of it; returns the unsubscribe. */
  watch(orderId: string, listener: (order: Order) => void): () => void;

  /**
   * The source of truth now holds these orders in these statuses: each may leave the cache
   * once the order retention (`RetentionPolicy.orderMs`) has passed since, unless its status
   * changed meanwhile (a COMPLETED order being refunded stays until its REFUNDED is held too).
   * An order not in the status given is left as it is.
   */
  settled(orders: readonly SettledOrder[]): Promise<void>;

  /**
   * Removes from the cache, a batch at a time, the orders settled longer than the order
   * retention ago (a store whose engine expires them itself removes what it still indexes);
   * resolves to how many left. They are read from the source of truth from then on; they
   * still count in `countByStatus`, and `list` no longer shows them.
   */
  evictSettled(): Promise<number>;

  /** Orders by current status, every order counted: those evicted from the cache too. */
  countByStatus(): Promise<Partial<Record<OrderStatus, number>>>;

  /**
   * Status changes made so far, by `FROM>TO` (`PAID>COMPLETED`): what the saga's graph
   * shows on its edges. Counted as the changes are written (since this version), evicted
   * orders kept; a transition never made is absent.
   */
  countTransitions(): Promise<Partial<Record<Transition, number>>>;

  /**
   * A page of orders, newest first: by order id, descending, which is newest first because
   * ids are time-ordered (UUIDv7). Paged by id, not by offset, so that paging neither skips
   * nor repeats an order while statuses change: an order that leaves `status` meanwhile is
   * just not on a later page. An index makes each page a range read, whatever the total.
   */
  list(query: OrderListQuery): Promise<Order[]>;

  close(): Promise<void>;
}

/** An order as the source of truth now holds it. */
export interface SettledOrder {
  readonly orderId: string;
  readonly status: OrderStatus;
}

/** Which orders `list` answers. */
export interface OrderListQuery {
  /** Only orders in this status now; omitted: every order. */
  readonly status?: OrderStatus;
  /** Only orders whose id sorts before this one: the last id of the previous page. */
  readonly before?: string;
  readonly limit: number;
}

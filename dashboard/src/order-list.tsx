import { useEffect, useRef, useState } from 'preact/hooks';
import { call, messageOf, query } from './api';
import { formatMoney, formatTime } from './format';
import { STATUSES, type OrderPage, type OrderSummary } from './types';

const PAGE_SIZE = 25;

/** The latest orders, newest first, of one status or all; a row click looks the order up. */
export function OrderList({ onPick }: { onPick: (orderId: string) => void }) {
  const [status, setStatus] = useState('');
  const [orders, setOrders] = useState<OrderSummary[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const latest = useRef(0);

  const load = async (filter: string, after: string | undefined): Promise<void> => {
    const attempt = ++latest.current;
    try {
      const page = await call<OrderPage>(
        'GET',
        `/v1/admin/orders${query({ status: filter, cursor: after, limit: PAGE_SIZE })}`,
      );
      if (attempt !== latest.current) return;
      setOrders((shown) => (after === undefined ? page.orders : [...shown, ...page.orders]));
      setCursor(page.nextCursor);
      setError(undefined);
    } catch (failure) {
      if (attempt === latest.current) setError(messageOf(failure));
    }
  };

  useEffect(() => {
    void load(status, undefined);
  }, [status]);

  return (
    <div>
      <label class="row">
        Status
        <select
          data-testid="order-filter"
          value={status}
          onChange={(event) => setStatus(event.currentTarget.value)}
        >
          <option value="">all</option>
          {STATUSES.map((each) => (
            <option key={each} value={each}>
              {each}
            </option>
          ))}
        </select>
      </label>
      {error !== undefined && <p class="error">{error}</p>}
      <table class="grid clickable">
        <thead>
          <tr>
            <th>Order</th>
            <th>Status</th>
            <th class="num">Total</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {orders.map((order) => (
            <tr key={order.orderId} data-testid="order-row" onClick={() => onPick(order.orderId)}>
              <td class="mono">{order.orderId}</td>
              <td>
                <span class={`status ${order.status}`}>{order.status}</span>
              </td>
              <td class="num">{formatMoney(order.total)}</td>
              <td>{formatTime(order.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {orders.length === 0 && error === undefined && <p class="muted">No orders.</p>}
      {cursor !== undefined && (
        <button data-testid="orders-more" onClick={() => void load(status, cursor)}>
          More
        </button>
      )}
    </div>
  );
}

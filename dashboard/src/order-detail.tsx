import { formatMoney, formatTime } from './format';
import type { OrderView, TimelineView } from './types';

interface Props {
  order: OrderView;
  timeline: TimelineView;
}

/** An order as the cache has it, and every event of it in the log with each consumer's outcome. */
export function OrderDetail({ order, timeline }: Props) {
  return (
    <div class="order">
      <dl class="pairs">
        <dt>order</dt>
        <dd class="mono">{order.orderId}</dd>
        <dt>status</dt>
        <dd>
          <span data-testid="order-status" class={`status ${order.status}`}>
            {order.status}
          </span>
          {order.reason !== undefined && <span class="muted"> {order.reason}</span>}
        </dd>
        <dt>customer</dt>
        <dd>
          {order.customerId} · {order.email}
        </dd>
        <dt>total</dt>
        <dd>{formatMoney(order.total)}</dd>
      </dl>

      <h3>Items</h3>
      <table data-testid="order-items" class="grid">
        <thead>
          <tr>
            <th>SKU</th>
            <th class="num">Qty</th>
            <th class="num">Unit price</th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((item) => (
            <tr key={item.sku}>
              <td>{item.sku}</td>
              <td class="num">{item.qty}</td>
              <td class="num">{formatMoney(item.unitPrice)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>History</h3>
      <ol data-testid="order-history" class="history">
        {order.history.map((step) => (
          <li key={`${step.status}-${step.at}`}>
            <span class={`status ${step.status}`}>{step.status}</span>{' '}
            <time dateTime={step.at}>{formatTime(step.at)}</time>
          </li>
        ))}
      </ol>

      <h3>Events in the log</h3>
      {!timeline.complete && (
        <p data-testid="order-note" class="note">
          {timeline.note ?? `the log keeps events for ${timeline.logRetention}`}
        </p>
      )}
      <table data-testid="order-timeline" class="grid">
        <thead>
          <tr>
            <th>Event</th>
            <th>Time</th>
            <th>Consumers</th>
          </tr>
        </thead>
        <tbody>
          {timeline.events.map((event) => (
            <tr key={event.id} data-testid="timeline-event">
              <td class="mono">{event.type}</td>
              <td>{formatTime(event.at)}</td>
              <td>
                <ul class="outcomes">
                  {Object.entries(event.outcomes).map(([group, outcome]) => (
                    <li key={group} class={`outcome ${outcome.state}`}>
                      {group}: {outcome.state}, {outcome.attempts}{' '}
                      {outcome.attempts === 1 ? 'attempt' : 'attempts'}
                      {outcome.lastError !== undefined && (
                        <span class="error"> — {outcome.lastError}</span>
                      )}
                    </li>
                  ))}
                </ul>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

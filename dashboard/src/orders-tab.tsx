import { useRef, useState } from 'preact/hooks';
import { call, messageOf, seg } from './api';
import { LookupForm } from './lookup-form';
import { OrderDetail } from './order-detail';
import { OrderList } from './order-list';
import type { OrderView, TimelineView } from './types';

type Lookup =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'found'; order: OrderView; timeline: TimelineView }
  | { kind: 'failed'; message: string };

/** One order looked up by id (typed, or picked from the latest orders below). */
export function OrdersTab() {
  const [orderId, setOrderId] = useState('');
  const [lookup, setLookup] = useState<Lookup>({ kind: 'idle' });
  const latest = useRef(0);

  const find = async (id: string): Promise<void> => {
    const trimmed = id.trim();
    if (trimmed === '') return;
    const attempt = ++latest.current;
    setOrderId(trimmed);
    setLookup({ kind: 'loading' });
    try {
      // One after the other: an unknown id then costs one failed request, not two.
      const order = await call<OrderView>('GET', `/v1/orders/${seg(trimmed)}`);
      const timeline = await call<TimelineView>('GET', `/v1/admin/orders/${seg(trimmed)}/timeline`);
      if (attempt === latest.current) setLookup({ kind: 'found', order, timeline });
    } catch (error) {
      if (attempt === latest.current) setLookup({ kind: 'failed', message: messageOf(error) });
    }
  };

  return (
    <div class="stack">
      <section class="card">
        <h2>Find an order</h2>
        <LookupForm
          value={orderId}
          onInput={setOrderId}
          onSubmit={() => void find(orderId)}
          placeholder="order id"
          button="Look up"
          inputTestId="order-id"
          buttonTestId="order-lookup"
        />
        {lookup.kind === 'loading' && <p class="muted">loading…</p>}
        {lookup.kind === 'failed' && (
          <p data-testid="order-error" class="error">
            {lookup.message}
          </p>
        )}
        {lookup.kind === 'found' && <OrderDetail order={lookup.order} timeline={lookup.timeline} />}
      </section>
      <section class="card">
        <h2>Latest orders</h2>
        <OrderList onPick={(id) => void find(id)} />
      </section>
    </div>
  );
}

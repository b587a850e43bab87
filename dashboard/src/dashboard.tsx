import { useState } from 'preact/hooks';
import { DlqTab } from './dlq-tab';
import { OrdersTab } from './orders-tab';
import { Overview } from './overview';
import { StockTab } from './stock-tab';
import { useLive } from './use-live';

const TABS = [
  ['overview', 'Overview'],
  ['orders', 'Orders'],
  ['dlq', 'Dead letters'],
  ['stock', 'Stock'],
] as const;
type Tab = (typeof TABS)[number][0];

interface Props {
  adminKey: string;
  onLogout: () => void;
  onRefused: (message: string) => void;
}

/** The open dashboard: the live stream is shared by every tab, so it outlives tab changes. */
export function Dashboard({ adminKey, onLogout, onRefused }: Props) {
  const [tab, setTab] = useState<Tab>('overview');
  const live = useLive(adminKey, onRefused);
  const snapshot = live.snapshot;
  const dlqTotal = snapshot
    ? Object.values(snapshot.consumers).reduce((sum, consumer) => sum + consumer.dlq, 0)
    : undefined;

  return (
    <div class="dashboard">
      <header class="top">
        <h1>orderflow</h1>
        <nav class="tabs">
          {TABS.map(([id, label]) => (
            <button
              key={id}
              data-testid={`tab-${id}`}
              class={tab === id ? 'tab active' : 'tab'}
              aria-pressed={tab === id}
              onClick={() => setTab(id)}
            >
              {label}
            </button>
          ))}
        </nav>
        <span data-testid="live-status" class={live.isOpen ? 'live on' : 'live off'}>
          {live.isOpen ? 'live' : 'reconnecting'}
        </span>
        <button data-testid="logout" class="quiet" onClick={onLogout}>
          Log out
        </button>
      </header>
      <main class="content">
        {tab === 'overview' && <Overview snapshot={snapshot} rates={live.rates} />}
        {tab === 'orders' && <OrdersTab />}
        {tab === 'dlq' && <DlqTab dlqTotal={dlqTotal} />}
        {tab === 'stock' && <StockTab stock={snapshot?.stock ?? []} />}
      </main>
    </div>
  );
}

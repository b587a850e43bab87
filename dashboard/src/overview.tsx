import { formatMs, formatRate, formatTime } from './format';
import { HotStockTable } from './hot-stock';
import { RateChart } from './rate-chart';
import { SagaGraph } from './saga-graph';
import { STATUSES, type Snapshot } from './types';
import type { RateSeries } from './use-live';

interface Props {
  snapshot: Snapshot | null;
  rates: RateSeries;
}

/** The service at a glance, redrawn from each second's snapshot. */
export function Overview({ snapshot, rates }: Props) {
  return (
    <div class="overview">
      <section class="card wide">
        <h2>Throughput</h2>
        <div class="figures">
          <Figure label="accepted/s" testId="rate-accepted">
            {snapshot ? formatRate(snapshot.rates.acceptedPerS) : '–'}
          </Figure>
          <Figure label="completed/s" testId="rate-completed">
            {snapshot ? formatRate(snapshot.rates.completedPerS) : '–'}
          </Figure>
          <Figure label="latency p50" testId="latency-p50">
            {formatMs(snapshot?.latency?.p50Ms)}
          </Figure>
          <Figure label="latency p99" testId="latency-p99">
            {formatMs(snapshot?.latency?.p99Ms)}
          </Figure>
        </div>
        <RateChart rates={rates} />
      </section>

      <section class="card wide">
        <h2>Saga</h2>
        <SagaGraph orders={snapshot?.orders ?? {}} transitions={snapshot?.transitions ?? {}} />
      </section>

      <section class="card">
        <h2>Orders by status</h2>
        <dl class="counts">
          {STATUSES.map((status) => (
            <div key={status}>
              <dt>{status}</dt>
              <dd data-testid={`count-${status}`}>{snapshot?.orders[status] ?? 0}</dd>
            </div>
          ))}
        </dl>
      </section>

      <section class="card">
        <h2>Consumers</h2>
        <ConsumersTable snapshot={snapshot} />
        <h2>Sync and payments</h2>
        <dl class="pairs">
          <dt>sync backlog</dt>
          <dd data-testid="sync-backlog">{snapshot?.sync.backlog ?? '–'}</dd>
          <dt>last sync</dt>
          <dd data-testid="sync-last">
            {snapshot?.sync.lastSyncAt ? formatTime(snapshot.sync.lastSyncAt) : '–'}
          </dd>
          <dt>payment breaker</dt>
          <dd>
            <span data-testid="breaker-state" class={`breaker ${snapshot?.breaker.state ?? ''}`}>
              {snapshot?.breaker.state ?? '–'}
            </span>
            {snapshot && snapshot.breaker.state !== 'none' && (
              <span class="muted">
                {' '}
                {snapshot.breaker.open} of {snapshot.breaker.processes} processes open
              </span>
            )}
            {snapshot?.breaker.state === 'none' && (
              <span class="muted"> no process reports one (simulated payments)</span>
            )}
          </dd>
        </dl>
      </section>

      <section class="card wide">
        <h2>Hot stock</h2>
        <HotStockTable stock={snapshot?.stock ?? []} />
      </section>
    </div>
  );
}

function Figure({ label, testId, children }: { label: string; testId: string; children: string }) {
  return (
    <div class="figure">
      <span class="value" data-testid={testId}>
        {children}
      </span>
      <span class="label">{label}</span>
    </div>
  );
}

function ConsumersTable({ snapshot }: { snapshot: Snapshot | null }) {
  const groups = Object.entries(snapshot?.consumers ?? {});
  if (groups.length === 0) return <p class="muted">No consumers yet.</p>;
  return (
    <table class="grid">
      <thead>
        <tr>
          <th>Group</th>
          <th class="num">Lag</th>
          <th class="num">In flight</th>
          <th class="num">DLQ</th>
        </tr>
      </thead>
      <tbody>
        {groups.map(([group, { lag, inFlight, dlq }]) => (
          <tr key={group} data-testid={`consumer-${group}`}>
            <td>{group}</td>
            <td class="num" data-testid={`consumer-${group}-lag`}>
              {lag}
            </td>
            <td class="num" data-testid={`consumer-${group}-inflight`}>
              {inFlight}
            </td>
            <td class={dlq > 0 ? 'num alert' : 'num'} data-testid={`consumer-${group}-dlq`}>
              {dlq}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The service's own metrics, on one registry that `/metrics` serves. These are counted
 * where things happen, in this process; what the stores know (orders by status, lag, dead
 * letters, the sync backlog and its last success, stock) is read at scrape time instead
 * (`metrics-collector.ts`), so that every process shows the same, shared figures.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly deliveries: Counter<'group' | 'outcome'>;
  /**
   * Per-step latency: a consumer group's time on one event, by event type. For `workflow`
   * each type is one saga advance (placed, payment confirmed, cancel, expiry); for a
   * fan-out group, one status it acts on.
   */
  readonly handlerSeconds: Histogram<'group' | 'type'>;
  readonly transitions: Counter<'status'>;
  readonly scheduleRuns: Counter<'schedule' | 'outcome'>;
  /** Times a circuit opened after being closed (see `PaymentCircuitBreaker.onTrip`). */
  readonly breakerTrips: Counter<'breaker'>;
  /** What retention passes removed from the hot stores (`events`, `orders`, `reservations`). */
  readonly retentionRemoved: Counter<'store'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'orderflow_' });
  return {
    registry,
    deliveries: new Counter({
      name: 'orderflow_deliveries_total',
      help: 'Event deliveries by consumer group and outcome (ack, nak = a retry, term = dead-lettered).',
      labelNames: ['group', 'outcome'],
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: 'orderflow_handler_duration_seconds',
      help: 'Time a consumer group spends on one event, by event type (the per-step latency).',
      labelNames: ['group', 'type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'orderflow_order_transitions_total',
      help: 'Orders that reached a status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    scheduleRuns: new Counter({
      name: 'orderflow_schedule_runs_total',
      help: 'Scheduled job runs by outcome.',
      labelNames: ['schedule', 'outcome'],
      registers: [registry],
    }),
    breakerTrips: new Counter({
      name: 'orderflow_circuit_breaker_trips_total',
      help: 'Times a circuit breaker opened after being closed, by breaker.',
      labelNames: ['breaker'],
      registers: [registry],
    }),
    retentionRemoved: new Counter({
      name: 'orderflow_retention_removed_total',
      help: 'What retention removed from the hot stores, by store (events, orders, reservations).',
      labelNames: ['store'],
      registers: [registry],
    }),
  };
}

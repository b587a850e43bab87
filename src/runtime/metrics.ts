import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The service's own metrics, on one registry that `/metrics` serves. */
export interface Metrics {
  readonly registry: Registry;
  readonly deliveries: Counter<'group' | 'outcome'>;
  readonly handlerSeconds: Histogram<'group'>;
  readonly transitions: Counter<'status'>;
  readonly scheduleRuns: Counter<'schedule' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'orderflow_' });
  return {
    registry,
    deliveries: new Counter({
      name: 'orderflow_deliveries_total',
      help: 'Event deliveries by consumer group and outcome (ack, nak, term).',
      labelNames: ['group', 'outcome'],
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: 'orderflow_handler_duration_seconds',
      help: 'Time a consumer group spends on one event.',
      labelNames: ['group'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
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
  };
}

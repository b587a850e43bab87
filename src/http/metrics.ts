import { Counter, Histogram, type Registry } from 'prom-client';

export interface HttpMetrics {
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly ordersAccepted: Counter;
}

const DURATION = 'orderflow_http_request_duration_seconds';
const ACCEPTED = 'orderflow_orders_accepted_total';

/** The HTTP metrics in the service's registry; an app built twice on one registry shares them. */
export function httpMetrics(registry: Registry): HttpMetrics {
  const requestDuration =
    (registry.getSingleMetric(DURATION) as Histogram<'method' | 'route' | 'status'> | undefined) ??
    new Histogram({
      name: DURATION,
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  const ordersAccepted =
    (registry.getSingleMetric(ACCEPTED) as Counter | undefined) ??
    new Counter({
      name: ACCEPTED,
      help: 'Orders answered 202 (replays not counted)',
      registers: [registry],
    });
  return { requestDuration, ordersAccepted };
}

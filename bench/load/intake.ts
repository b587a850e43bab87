import autocannon from 'autocannon';
import type { Target } from '../variants/target.js';
import { waitDrained } from './drain.js';
import { orderBody } from './orders.js';

export interface IntakeFigures {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly accepted: number;
  readonly non2xx: number;
  readonly errors: number;
  /** Orders still open when the burst ended, and how long they took to end (undefined: bare). */
  readonly backlogAtEnd: number | undefined;
  readonly drainMs: number | undefined;
  readonly drained: boolean | undefined;
}

/**
 * `connections` keep-alive connections posting real orders (round-robin over `skus`) for
 * `seconds`, while the pipeline runs; then the time until every accepted order has ended.
 */
export async function measureIntake(
  target: Target,
  skus: readonly string[],
  connections: number,
  seconds: number,
  drainTimeoutMs: number,
): Promise<IntakeFigures> {
  const bodies = skus.length === 0 ? [orderBody('A123')] : skus.map((sku) => orderBody(sku));
  let next = 0;
  const before = await target.progress();
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/v1/orders',
        headers: { 'content-type': 'application/json', ...target.headers },
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
      },
    ],
  });
  const accepted = result['2xx'];
  const figures = {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    accepted,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  if (!target.pipeline)
    return { ...figures, backlogAtEnd: undefined, drainMs: undefined, drained: undefined };
  const burstEnd = performance.now();
  const atEnd = await target.progress();
  const drain = await waitDrained(target, before, accepted, drainTimeoutMs, 200);
  return {
    ...figures,
    backlogAtEnd: atEnd.open,
    drainMs: Math.round(drain.endedAt - burstEnd),
    drained: drain.drained,
  };
}

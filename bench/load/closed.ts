import http from 'node:http';
import type { Target } from '../variants/target.js';
import { waitDrained } from './drain.js';
import { countStatuses, orderBody, postOrder, type Answer } from './orders.js';

export interface EndToEnd {
  readonly orders: number;
  /** Orders per second from the first POST to the last terminal status. */
  readonly ordersPerS: number;
  readonly ms: number;
  /** When the last POST was answered, ms after the first was sent. */
  readonly postedMs: number;
  readonly answers: Record<string, number>;
  /** This phase's orders by final status. */
  readonly byStatus: Record<string, number>;
  readonly drained: boolean;
  readonly open: number;
}

/**
 * Posts `count` orders (round-robin over `skus`) with `inFlight` at a time, then waits
 * until every accepted order is terminal: a closed loop, the way a burst of checkouts
 * behind a bounded pool arrives.
 */
export async function endToEnd(
  target: Target,
  skus: readonly string[],
  count: number,
  inFlight: number,
  drainTimeoutMs: number,
): Promise<EndToEnd> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const bodies = skus.map((sku) => orderBody(sku));
  const before = await target.progress();
  const answers: Answer[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + drainTimeoutMs;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count && performance.now() < deadline) {
        const body = bodies[next++ % bodies.length] ?? '';
        answers.push(await postOrder(target, agent, body));
      }
    }),
  );
  const postedMs = performance.now() - started;
  agent.destroy();
  const accepted = answers.filter((answer) => answer.status === 202).length;
  const drain = await waitDrained(
    target,
    before,
    accepted,
    Math.max(1000, deadline - performance.now()),
    50,
    answers.length - accepted,
  );
  const ms = drain.endedAt - started;
  return {
    orders: accepted,
    ordersPerS: Math.round((accepted / ms) * 1000),
    ms: Math.round(ms),
    postedMs: Math.round(postedMs),
    answers: countStatuses(answers),
    byStatus: drain.byStatus,
    drained: drain.drained,
    open: drain.open,
  };
}

import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { percentile } from '../stats.js';
import type { LatencyVia } from '../options.js';
import type { Target } from '../variants/target.js';
import { countStatuses, orderBody, postOrder, type Answer } from './orders.js';

export interface OpenLoop {
  /** Offered and achieved (sent) rate, orders/s. */
  readonly rate: number;
  readonly sentPerS: number;
  readonly sent: number;
  /** Requests the generator did not send because `maxInFlight` were already waiting. */
  readonly skipped: number;
  readonly answers: Record<string, number>;
  /** 202 → COMPLETED as the system recorded it. */
  readonly p50: number;
  readonly p99: number;
  readonly completed: number;
  /** 202 → COMPLETED received by the client over SSE (orderflow only). */
  readonly observedP50: number | undefined;
  readonly observedP99: number | undefined;
  readonly notCompleted: number;
  readonly unknown: number;
  /** This process's event-loop delay p99 while sending and watching: high means the generator lagged. */
  readonly generatorLagP99: number;
  /** POST → 202 of the same requests. */
  readonly intakeP50: number;
  readonly intakeP99: number;
}

/**
 * An open loop: `rate` orders per second for `seconds`, fired on a clock whatever the
 * answers (a timer tick sends what is due), each 202 handed to the variant's completion
 * tracker; then waits for the tracked orders and reads 202 → COMPLETED.
 */
export async function openLoop(
  target: Target,
  skus: readonly string[],
  rate: number,
  seconds: number,
  settleTimeoutMs: number,
  via: LatencyVia,
  maxInFlight = 5_000,
): Promise<OpenLoop> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const bodies = skus.map((sku) => orderBody(sku));
  const tracker = target.completions(via);
  const answers: Answer[] = [];
  const waiting = new Set<Promise<void>>();
  const total = Math.round(rate * seconds);
  let sent = 0;
  let skipped = 0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent + skipped < due) {
        if (waiting.size >= maxInFlight) {
          skipped += 1;
          continue;
        }
        const body = bodies[(sent + skipped) % bodies.length] ?? '';
        sent += 1;
        const request = postOrder(target, agent, body).then((answer) => {
          answers.push(answer);
          if (answer.status === 202 && answer.orderId !== undefined)
            tracker.track(answer.orderId, answer.at);
          waiting.delete(request);
        });
        waiting.add(request);
      }
      if (sent + skipped >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  const sendMs = performance.now() - started;
  await Promise.all([...waiting]);
  agent.destroy();
  const settled = await tracker.settle(settleTimeoutMs);
  lag.disable();
  const intake = answers.map((answer) => answer.ms);
  return {
    rate,
    sentPerS: Math.round((sent / sendMs) * 1000),
    sent,
    skipped,
    answers: countStatuses(answers),
    p50: percentile(settled.recorded, 50),
    p99: percentile(settled.recorded, 99),
    completed: settled.recorded.length,
    observedP50: settled.observed ? percentile(settled.observed, 50) : undefined,
    observedP99: settled.observed ? percentile(settled.observed, 99) : undefined,
    notCompleted: settled.notCompleted,
    unknown: settled.unknown,
    generatorLagP99: Math.round(lag.percentile(99) / 1e6),
    intakeP50: percentile(intake, 50),
    intakeP99: percentile(intake, 99),
  };
}

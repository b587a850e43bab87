import { sleep } from '../stats.js';
import type { Progress, Target } from '../variants/target.js';

export interface Drain {
  /** Whether every accepted order ended before the timeout. */
  readonly drained: boolean;
  /** performance.now() when the last order was seen terminal (or the timeout struck). */
  readonly endedAt: number;
  /** Orders of this phase that ended, by status. */
  readonly byStatus: Record<string, number>;
  /** Orders open when it stopped waiting (those of `before` and refused ones when drained). */
  readonly open: number;
}

/**
 * Polls the variant until `accepted` more orders than at `before` are terminal and no more
 * are open than at `before` plus `refused`, or `timeoutMs` has passed. `refused`: the orders
 * of the phase the intake did not answer 202; such an order may stay PENDING (its abandon
 * failed too), and no accepted order may wait behind it: every `pollMs` near the end, every 500 ms while more than
 * 200 are open, so that the polling (a query on the variant) does not slow what it watches.
 */
export async function waitDrained(
  target: Target,
  before: Progress,
  accepted: number,
  timeoutMs: number,
  pollMs = 50,
  refused = 0,
): Promise<Drain> {
  const deadline = performance.now() + timeoutMs;
  let last = before;
  for (;;) {
    last = await target.progress().catch(() => last);
    const ended = last.terminal - before.terminal;
    const now = performance.now();
    const done = ended >= accepted && last.open <= before.open + refused;
    if (done || now > deadline) {
      const byStatus: Record<string, number> = {};
      for (const [status, count] of Object.entries(last.byStatus)) {
        const delta = count - (before.byStatus[status] ?? 0);
        if (delta !== 0) byStatus[status] = delta;
      }
      return {
        drained: done,
        endedAt: now,
        byStatus,
        open: last.open,
      };
    }
    await sleep(last.open > 200 || accepted - ended > 200 ? Math.max(pollMs, 500) : pollMs);
  }
}

/**
 * Polls the variant until its slowest consumer group and the sync have nothing left to do
 * (`Progress.behind` is 0, or not reported), or `timeoutMs` has passed; true when caught up.
 */
export async function waitCaughtUp(target: Target, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const progress = await target.progress().catch(() => undefined);
    if (progress && (progress.behind ?? 0) === 0) return true;
    if (performance.now() > deadline) return false;
    await sleep(250);
  }
}

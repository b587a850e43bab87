import { sleep } from '../stats.js';
import type { Progress, Target } from '../variants/target.js';

export interface Drain {
  /** Whether every accepted order ended before the timeout. */
  readonly drained: boolean;
  /** performance.now() when the last order was seen terminal (or the timeout struck). */
  readonly endedAt: number;
  /** Orders of this phase that ended, by status. */
  readonly byStatus: Record<string, number>;
  /** Orders still open when it stopped waiting (0 when drained). */
  readonly open: number;
}

/**
 * Polls the variant until `accepted` more orders than at `before` are terminal and none is
 * open, or `timeoutMs` has passed: every `pollMs` near the end, every 500 ms while more than
 * 200 are open, so that the polling (a query on the variant) does not slow what it watches.
 */
export async function waitDrained(
  target: Target,
  before: Progress,
  accepted: number,
  timeoutMs: number,
  pollMs = 50,
): Promise<Drain> {
  const deadline = performance.now() + timeoutMs;
  let last = before;
  for (;;) {
    last = await target.progress().catch(() => last);
    const ended = last.terminal - before.terminal;
    const now = performance.now();
    if ((ended >= accepted && last.open === 0) || now > deadline) {
      const byStatus: Record<string, number> = {};
      for (const [status, count] of Object.entries(last.byStatus)) {
        const delta = count - (before.byStatus[status] ?? 0);
        if (delta !== 0) byStatus[status] = delta;
      }
      return {
        drained: ended >= accepted && last.open === 0,
        endedAt: now,
        byStatus,
        open: last.open,
      };
    }
    await sleep(last.open > 200 || accepted - ended > 200 ? Math.max(pollMs, 500) : pollMs);
  }
}

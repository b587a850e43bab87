import { describe, expect, it } from 'vitest';
import { retentionIntervalMs } from '../../src/workflow/retention.js';

const policy = (logMs: number, orderMs: number) => ({
  logMs,
  orderMs,
  deadLettersPerGroup: 10_000,
  logMaxBytes: 0,
});

describe('the retention pass interval', () => {
  it('runs four times per the shortest retention, between one second and one minute', () => {
    expect(retentionIntervalMs(policy(7 * 86_400_000, 30 * 86_400_000))).toBe(60_000);
    expect(retentionIntervalMs(policy(2 * 60_000, 30 * 86_400_000))).toBe(30_000);
    expect(retentionIntervalMs(policy(2_000, 2_000))).toBe(1_000);
    // Off (0) does not count as the shortest.
    expect(retentionIntervalMs(policy(0, 20_000))).toBe(5_000);
    expect(retentionIntervalMs(policy(0, 0))).toBe(60_000);
  });
});

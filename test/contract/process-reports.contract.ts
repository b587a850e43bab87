import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessReports } from '../../src/ports/process-reports.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';

/** The behaviour every ProcessReports adapter must show; `factory` gives isolated storage. */
export function describeProcessReportsContract(
  name: string,
  factory: FixtureFactory<ProcessReports>,
): void {
  describe(`${name} ProcessReports`, () => {
    let fixture: Fixture<ProcessReports>;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('keeps the latest report of each process, ordered by process', async () => {
      const reports = fixture.open(clock);
      expect(await reports.live()).toEqual([]);
      await reports.put({ process: 'worker-b', breaker: 'closed', at: 1 }, 10_000);
      await reports.put({ process: 'worker-a', breaker: 'closed', at: 2 }, 10_000);
      await reports.put({ process: 'worker-b', breaker: 'open', at: 3 }, 10_000);
      expect(await reports.live()).toEqual([
        { process: 'worker-a', breaker: 'closed', at: 2 },
        { process: 'worker-b', breaker: 'open', at: 3 },
      ]);
    });

    it('drops a report once its TTL has passed, and keeps one renewed in time', async () => {
      const reports = fixture.open(clock);
      await reports.put({ process: 'gone', breaker: 'open', at: 1 }, 5_000);
      await reports.put({ process: 'renewed', breaker: 'half-open', at: 1 }, 5_000);
      clock.advance(4_000);
      await reports.put({ process: 'renewed', breaker: 'closed', at: 2 }, 5_000);
      clock.advance(1_000);
      expect(await reports.live()).toEqual([{ process: 'renewed', breaker: 'closed', at: 2 }]);
      clock.advance(4_000);
      expect(await reports.live()).toEqual([]);
    });

    it('removes the report of a process that stops, and no other', async () => {
      const reports = fixture.open(clock);
      await reports.put({ process: 'stopping', breaker: 'closed', at: 1 }, 10_000);
      await reports.put({ process: 'running', breaker: 'closed', at: 1 }, 10_000);
      await reports.remove('stopping');
      await reports.remove('never-there');
      expect((await reports.live()).map(({ process }) => process)).toEqual(['running']);
    });

    it('shares the reports with every other instance on the same storage (another process)', async () => {
      const worker = fixture.open(clock);
      const api = fixture.open(clock);
      await worker.put({ process: 'worker-1', breaker: 'open', at: 7 }, 10_000);
      expect(await api.live()).toEqual([{ process: 'worker-1', breaker: 'open', at: 7 }]);
    });
  });
}

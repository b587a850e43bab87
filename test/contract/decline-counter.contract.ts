import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DECLINE_WINDOW_MS, type DeclineCounter } from '../../src/ports/decline-counter.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';

/** The behaviour every DeclineCounter adapter must show; `factory` gives isolated storage per test. */
export function describeDeclineCounterContract(
  name: string,
  factory: FixtureFactory<DeclineCounter>,
): void {
  describe(`${name} DeclineCounter`, () => {
    let fixture: Fixture<DeclineCounter>;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('counts declines per key, zero for a key never seen', async () => {
      const counter = fixture.open(clock);
      await counter.add(['customer:c1', 'ip:10.0.0.1']);
      await counter.add(['customer:c1', 'ip:10.0.0.2']);
      expect(await counter.counts(['customer:c1', 'ip:10.0.0.1', 'ip:10.0.0.2', 'x'])).toEqual([
        2, 1, 1, 0,
      ]);
    });

    it('forgets declines older than the window', async () => {
      const counter = fixture.open(clock);
      await counter.add(['customer:c1']);
      clock.advance(DECLINE_WINDOW_MS / 2);
      await counter.add(['customer:c1']);
      expect(await counter.counts(['customer:c1'])).toEqual([2]);
      clock.advance(DECLINE_WINDOW_MS / 2 + 1);
      expect(await counter.counts(['customer:c1'])).toEqual([1]);
    });

    it('shares its counts with every other instance on the same storage (another process)', async () => {
      const one = fixture.open(clock);
      const other = fixture.open(clock);
      await Promise.all([one.add(['method:pm_x']), other.add(['method:pm_x'])]);
      expect(await one.counts(['method:pm_x'])).toEqual([2]);
      expect(await other.counts(['method:pm_x'])).toEqual([2]);
    });
  });
}

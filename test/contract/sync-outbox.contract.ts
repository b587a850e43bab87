import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SyncOutbox } from '../../src/ports/sync-outbox.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';

/** The behaviour every SyncOutbox adapter must show; `factory` gives isolated storage per test. */
export function describeSyncOutboxContract(
  name: string,
  factory: FixtureFactory<SyncOutbox>,
): void {
  describe(`${name} SyncOutbox`, () => {
    let fixture: Fixture<SyncOutbox>;
    let outbox: SyncOutbox;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
      outbox = fixture.open(clock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('keeps one entry per order and status, oldest first', async () => {
      await outbox.add('o1', 'COMPLETED');
      clock.advance(1);
      await outbox.add('o2', 'CANCELLED');
      clock.advance(1);
      await outbox.add('o1', 'COMPLETED');
      await outbox.add('o1', 'REFUNDED');
      expect(await outbox.size()).toBe(3);
      expect(await outbox.take(10)).toEqual([
        { orderId: 'o1', status: 'COMPLETED' },
        { orderId: 'o2', status: 'CANCELLED' },
        { orderId: 'o1', status: 'REFUNDED' },
      ]);
      expect(await outbox.take(1)).toEqual([{ orderId: 'o1', status: 'COMPLETED' }]);
    });

    it('removes only the entries that are done, keeping those added meanwhile', async () => {
      await outbox.add('o1', 'COMPLETED');
      await outbox.add('o2', 'COMPLETED');
      const batch = await outbox.take(10);
      clock.advance(1);
      await outbox.add('o1', 'REFUNDED');
      await outbox.done(batch);
      expect(await outbox.take(10)).toEqual([{ orderId: 'o1', status: 'REFUNDED' }]);
      expect(await outbox.size()).toBe(1);
    });
  });
}

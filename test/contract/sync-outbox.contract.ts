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

    it('keeps the latest successful sync-out, never moving it back', async () => {
      expect(await outbox.lastSyncedAt()).toBeUndefined();
      const first = clock.now();
      await outbox.markSynced(first);
      expect(await outbox.lastSyncedAt()).toBe(first);
      await outbox.markSynced(first + 1500);
      // Another process whose clock is a little behind.
      await outbox.markSynced(first + 200);
      expect(await outbox.lastSyncedAt()).toBe(first + 1500);
    });

    it('shares the last sync-out with every instance on the same storage', async () => {
      const at = clock.now();
      await outbox.markSynced(at);
      // Marking is not the backlog: no entry appears or goes.
      expect(await outbox.size()).toBe(0);
      const other = fixture.open(clock);
      expect(await other.lastSyncedAt()).toBe(at);
      await other.markSynced(at + 10);
      expect(await outbox.lastSyncedAt()).toBe(at + 10);
    });
  });
}

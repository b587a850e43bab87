import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/ports/lease.js';
import { systemClock, type Fixture, type FixtureFactory } from './fixture.js';
import { sleep } from './support.js';

const LONG = 30_000;

/**
 * The behaviour every Lease adapter must show; `factory` gives isolated storage per test.
 * A lease lapses in real time (an adapter may keep time in its engine), so the suite
 * opens adapters on the system clock and waits out short TTLs.
 */
export function describeLeaseContract(name: string, factory: FixtureFactory<Lease>): void {
  describe(`${name} Lease`, () => {
    let fixture: Fixture<Lease>;
    let lease: Lease;

    beforeEach(async () => {
      fixture = await factory();
      lease = fixture.open(systemClock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('gives a lease to one of many concurrent holders, per name', async () => {
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => lease.acquire('sync-out', `p${i}`, LONG)),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await lease.acquire('sync-out', 'late', LONG)).toBe(false);
      expect(await lease.acquire('sync-in', 'late', LONG)).toBe(true);
    });

    it('is renewed by its holder and refused to others meanwhile', async () => {
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(true);
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(true);
      expect(await lease.acquire('sync-out', 'b', LONG)).toBe(false);
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(true);
    });

    it('is taken over once the holder let it lapse', async () => {
      expect(await lease.acquire('sync-out', 'a', 100)).toBe(true);
      expect(await lease.acquire('sync-out', 'b', LONG)).toBe(false);
      await sleep(250);
      expect(await lease.acquire('sync-out', 'b', LONG)).toBe(true);
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(false);
    });

    it('is given up by its holder only', async () => {
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(true);
      await lease.release('sync-out', 'b');
      expect(await lease.acquire('sync-out', 'b', LONG)).toBe(false);
      await lease.release('sync-out', 'a');
      await lease.release('sync-out', 'a');
      expect(await lease.acquire('sync-out', 'b', LONG)).toBe(true);
    });

    it('is one lease for every adapter on the same storage', async () => {
      const other = fixture.open(systemClock);
      expect(await lease.acquire('sync-out', 'a', LONG)).toBe(true);
      expect(await other.acquire('sync-out', 'b', LONG)).toBe(false);
      await lease.release('sync-out', 'a');
      expect(await other.acquire('sync-out', 'b', LONG)).toBe(true);
    });
  });
}

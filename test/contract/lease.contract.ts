import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/ports/lease.js';
import { systemClock, type Fixture, type FixtureFactory } from './fixture.js';
import { eventually, sleep } from './support.js';

const LONG = 30_000;
const SHORT = 100;

/** A fencing token: what `acquire` answers its holder. */
const held = (token: number | undefined): token is number =>
  Number.isSafeInteger(token) && (token ?? 0) > 0;

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
      expect(claims.filter(held)).toHaveLength(1);
      expect(await lease.acquire('sync-out', 'late', LONG)).toBeUndefined();
      expect(held(await lease.acquire('sync-in', 'late', LONG))).toBe(true);
    });

    it('is renewed by its holder and refused to others meanwhile', async () => {
      expect(held(await lease.acquire('sync-out', 'a', LONG))).toBe(true);
      expect(held(await lease.acquire('sync-out', 'a', LONG))).toBe(true);
      expect(await lease.acquire('sync-out', 'b', LONG)).toBeUndefined();
      expect(held(await lease.acquire('sync-out', 'a', LONG))).toBe(true);
    });

    it('is taken over once the holder let it lapse', async () => {
      expect(held(await lease.acquire('sync-out', 'a', SHORT))).toBe(true);
      expect(await lease.acquire('sync-out', 'b', LONG)).toBeUndefined();
      await sleep(SHORT); // the TTL runs out
      await eventually(async () =>
        expect(held(await lease.acquire('sync-out', 'b', LONG))).toBe(true),
      );
      expect(await lease.acquire('sync-out', 'a', LONG)).toBeUndefined();
    });

    it('is given up by its holder only', async () => {
      expect(held(await lease.acquire('sync-out', 'a', LONG))).toBe(true);
      await lease.release('sync-out', 'b');
      expect(await lease.acquire('sync-out', 'b', LONG)).toBeUndefined();
      await lease.release('sync-out', 'a');
      await lease.release('sync-out', 'a');
      expect(held(await lease.acquire('sync-out', 'b', LONG))).toBe(true);
    });

    it('keeps its fencing token across renewals', async () => {
      const token = await lease.acquire('sync', 'a', LONG);
      expect(held(token)).toBe(true);
      expect(await lease.acquire('sync', 'a', LONG)).toBe(token);
      expect(await lease.acquire('sync', 'b', LONG)).toBeUndefined();
      expect(await lease.acquire('sync', 'a', LONG)).toBe(token);
    });

    it('gives every new holder a larger token than any before it', async () => {
      const first = (await lease.acquire('sync', 'a', SHORT)) ?? 0;
      expect(held(first)).toBe(true);
      await sleep(SHORT); // the TTL runs out
      // Taken over after a lapse: the paused holder's token is now the older one.
      const second = await eventually(async () => {
        const token = await lease.acquire('sync', 'b', LONG);
        expect(held(token)).toBe(true);
        return token ?? 0;
      });
      expect(second).toBeGreaterThan(first);
      await lease.release('sync', 'b');
      // After a release, also by a holder that had it before.
      const third = (await lease.acquire('sync', 'a', LONG)) ?? 0;
      expect(third).toBeGreaterThan(second);
      await lease.release('sync', 'a');
      const fourth = (await lease.acquire('sync', 'a', LONG)) ?? 0;
      expect(fourth).toBeGreaterThan(third);
    });

    it('hands out each token once among concurrent takers, in increasing order', async () => {
      const tokens: number[] = [];
      for (let round = 0; round < 5; round += 1) {
        const claims = await Promise.all(
          Array.from({ length: 5 }, (_, i) => lease.acquire('sync', `r${round}p${i}`, LONG)),
        );
        const won = claims.filter(held);
        expect(won).toHaveLength(1);
        tokens.push(...won);
        await Promise.all(claims.map((_, i) => lease.release('sync', `r${round}p${i}`)));
      }
      expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
      expect(new Set(tokens).size).toBe(tokens.length);
    });

    it('keeps tokens increasing for every adapter on the same storage', async () => {
      const other = fixture.open(systemClock);
      const first = (await lease.acquire('sync', 'a', LONG)) ?? 0;
      await lease.release('sync', 'a');
      const second = (await other.acquire('sync', 'b', LONG)) ?? 0;
      expect(second).toBeGreaterThan(first);
      expect(await lease.acquire('sync', 'a', LONG)).toBeUndefined();
    });

    it('is one lease for every adapter on the same storage', async () => {
      const other = fixture.open(systemClock);
      expect(held(await lease.acquire('sync-out', 'a', LONG))).toBe(true);
      expect(await other.acquire('sync-out', 'b', LONG)).toBeUndefined();
      await lease.release('sync-out', 'a');
      expect(held(await other.acquire('sync-out', 'b', LONG))).toBe(true);
    });
  });
}

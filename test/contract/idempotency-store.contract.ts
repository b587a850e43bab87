import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IdempotencyStore, StoredResponse } from '../../src/ports/idempotency-store.js';
import { ManualClock, type Fixture, type FixtureFactory } from './fixture.js';

const TTL = 24 * 60 * 60 * 1000;
const RESPONSE: StoredResponse = {
  status: 202,
  body: { orderId: 'ord_1', status: 'PENDING', total: { amount: 1999, currency: 'USD' } },
  headers: { location: '/v1/orders/ord_1' },
};

/** The behaviour every IdempotencyStore adapter must show; `factory` gives isolated storage per test. */
export function describeIdempotencyStoreContract(
  name: string,
  factory: FixtureFactory<IdempotencyStore>,
): void {
  describe(`${name} IdempotencyStore`, () => {
    let fixture: Fixture<IdempotencyStore>;
    let store: IdempotencyStore;
    let clock: ManualClock;

    beforeEach(async () => {
      clock = new ManualClock();
      fixture = await factory();
      store = fixture.open(clock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('gives one of 20 concurrent begins of a key the start, the others in_flight', async () => {
      const claims = await Promise.all(
        Array.from({ length: 20 }, () => store.begin('client', 'k1', 'fp', TTL, 'ord_1')),
      );
      expect(claims.filter((claim) => claim.state === 'started')).toHaveLength(1);
      expect(claims.filter((claim) => claim.state === 'in_flight')).toHaveLength(19);
    });

    it('replays the stored response once completed, also after a reopen', async () => {
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_1')).toEqual({ state: 'started' });
      await store.complete('client', 'k1', RESPONSE);
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_1')).toEqual({
        state: 'replay',
        response: RESPONSE,
      });
      await store.close();
      const reopened = fixture.open(clock);
      expect(await reopened.begin('client', 'k1', 'fp', TTL, 'ord_1')).toEqual({
        state: 'replay',
        response: RESPONSE,
      });
    });

    it('refuses the key for another body, in flight or completed', async () => {
      await store.begin('client', 'k1', 'fp', TTL, 'ord_1');
      expect(await store.begin('client', 'k1', 'other', TTL, 'ord_2')).toEqual({
        state: 'mismatch',
      });
      await store.complete('client', 'k1', RESPONSE);
      expect(await store.begin('client', 'k1', 'other', TTL, 'ord_2')).toEqual({
        state: 'mismatch',
      });
    });

    it('keeps scopes apart', async () => {
      await store.begin('client-a', 'k1', 'fp', TTL, 'ord_1');
      expect(await store.begin('client-b', 'k1', 'fp', TTL, 'ord_2')).toEqual({ state: 'started' });
    });

    it('lets the next request with the same body resume an abandoned key', async () => {
      await store.begin('client', 'k1', 'fp', TTL, 'ord_1');
      await store.abandon('client', 'k1');
      expect(await store.begin('client', 'k1', 'other', TTL, 'ord_2')).toEqual({
        state: 'mismatch',
      });
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_2')).toEqual({
        state: 'resume',
        ref: 'ord_1',
      });
      // Resumed: the key is claimed again until that attempt ends.
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_3')).toEqual({
        state: 'in_flight',
      });
      await store.complete('client', 'k1', RESPONSE);
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_3')).toMatchObject({
        state: 'replay',
      });
    });

    it('resumes the ref a claimed key was rebound to', async () => {
      await store.begin('client', 'k1', 'fp', TTL, 'ord_1');
      await store.rebind('client', 'k1', 'ord_9');
      await store.abandon('client', 'k1');
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_2')).toEqual({
        state: 'resume',
        ref: 'ord_9',
      });
    });

    it('frees a released key for any body', async () => {
      await store.begin('client', 'k1', 'fp', TTL, 'ord_1');
      await store.release('client', 'k1');
      expect(await store.begin('client', 'k1', 'other', TTL, 'ord_2')).toEqual({
        state: 'started',
      });
    });

    it('hands a claim whose holder went silent to the next request, with its ref', async () => {
      await store.begin('client', 'k1', 'fp', TTL, 'ord_1');
      clock.advance(5_000);
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_2')).toEqual({
        state: 'in_flight',
      });
      clock.advance(6_000);
      expect(await store.begin('client', 'k1', 'fp', TTL, 'ord_2')).toEqual({
        state: 'resume',
        ref: 'ord_1',
      });
    });

    it('forgets a key after its TTL', async () => {
      await store.begin('client', 'done', 'fp', 1_000, 'ord_1');
      await store.complete('client', 'done', RESPONSE);
      await store.begin('client', 'stuck', 'fp', 1_000, 'ord_2');
      clock.advance(999);
      expect(await store.begin('client', 'done', 'fp', 1_000, 'ord_3')).toMatchObject({
        state: 'replay',
      });
      expect(await store.begin('client', 'stuck', 'fp', 1_000, 'ord_3')).toEqual({
        state: 'in_flight',
      });
      clock.advance(2);
      expect(await store.begin('client', 'done', 'other', 1_000, 'ord_4')).toEqual({
        state: 'started',
      });
      expect(await store.begin('client', 'stuck', 'other', 1_000, 'ord_5')).toEqual({
        state: 'started',
      });
    });

    it('records effects once', async () => {
      expect(await store.wasDone('mail:ord_1:COMPLETED')).toBe(false);
      await store.markDone('mail:ord_1:COMPLETED');
      await store.markDone('mail:ord_1:COMPLETED');
      expect(await store.wasDone('mail:ord_1:COMPLETED')).toBe(true);
      expect(await store.wasDone('mail:ord_1:REFUNDED')).toBe(false);
    });
  });
}

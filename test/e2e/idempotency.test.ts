/** Invariant 4: the same Idempotency-Key and body give the same order and answer, never a second order. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, orderBody, totalOrders } from '../helpers/api.js';
import type { HttpResponse } from '../helpers/http.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';

let svc: Service;

function withKey(key: string): { headers: Record<string, string> } {
  return { headers: { 'idempotency-key': key } };
}

function isReplay(res: HttpResponse): boolean {
  return res.headers['idempotent-replayed'] === 'true';
}

beforeAll(async () => {
  svc = await startService({ env: { ORDERFLOW_RATE_LIMIT: '0' } });
});

afterAll(async () => {
  await stopAllServices();
});

describe('Idempotency-Key', () => {
  it('same key + same body → same order, same status and body, Idempotent-Replayed: true', async () => {
    const key = randomUUID();
    const body = orderBody({ sku: 'A123', qty: 1 });
    const first = await svc.placeOrder(body, withKey(key));
    expect(first.status).toBe(202);
    expect(isReplay(first)).toBe(false);

    const second = await svc.placeOrder(body, withKey(key));
    expect(second.status).toBe(202);
    expect(second.json).toEqual(first.json);
    expect(isReplay(second)).toBe(true);

    await svc.waitForTerminal(first.json.orderId);
    const third = await svc.placeOrder(body, withKey(key));
    expect(third.status).toBe(202);
    expect(third.json).toEqual(first.json);
    expect(isReplay(third)).toBe(true);
  });

  it('same key + another body → 422 idempotency_key_reused, no new order', async () => {
    const key = randomUUID();
    const body = orderBody({ sku: 'A123', qty: 1 });
    const first = await svc.placeOrder(body, withKey(key));
    expect(first.status).toBe(202);
    await svc.waitForTerminal(first.json.orderId);
    const before = totalOrders(await svc.stats());

    const other = await svc.placeOrder({ ...body, items: [{ sku: 'A123', qty: 2 }] }, withKey(key));
    expect(other.status).toBe(422);
    expect(errorCode(other.json)).toBe('idempotency_key_reused');
    expect(totalOrders(await svc.stats())).toBe(before);
  });

  it('different keys, same body → two orders', async () => {
    const body = orderBody({ sku: 'A123', qty: 1 });
    const a = await svc.placeOrder(body, withKey(randomUUID()));
    const b = await svc.placeOrder(body, withKey(randomUUID()));
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.json.orderId).not.toBe(b.json.orderId);
    await svc.waitForAllTerminal([a.json.orderId, b.json.orderId]);
  });

  it('20 concurrent requests with one key → exactly one order', async () => {
    const before = totalOrders(await svc.stats());
    const key = randomUUID();
    const body = orderBody({ sku: 'A123', qty: 1 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => svc.placeOrder(body, withKey(key))),
    );

    const unexpected = answers.filter((res) => res.status !== 202 && res.status !== 409);
    expect(unexpected.map((res) => `${res.status} ${res.text}`)).toEqual([]);
    for (const res of answers.filter((r) => r.status === 409))
      expect(errorCode(res.json)).toBe('idempotency_key_in_use');

    const ok = answers.filter((res) => res.status === 202);
    const ids = new Set(ok.map((res) => res.json.orderId));
    expect(ids.size).toBe(1);
    expect(ok.filter((res) => !isReplay(res))).toHaveLength(1);
    for (const res of ok) expect(res.json).toEqual(ok[0]?.json);

    const [orderId] = [...ids];
    await svc.waitForTerminal(orderId as string);
    expect(totalOrders(await svc.stats())).toBe(before + 1);
    const replay = await svc.placeOrder(body, withKey(key));
    expect(replay.status).toBe(202);
    expect(replay.json.orderId).toBe(orderId);
  });

  it('a request refused by validation (400) stores nothing under its key', async () => {
    const key = randomUUID();
    const invalid = await svc.placeOrder(orderBody({ sku: 'A123', qty: 0 }), withKey(key));
    expect(invalid.status).toBe(400);
    expect(errorCode(invalid.json)).toBe('validation_error');

    const valid = await svc.placeOrder(orderBody({ sku: 'A123', qty: 1 }), withKey(key));
    expect(valid.status).toBe(202);
    expect(isReplay(valid)).toBe(false);
    await svc.waitForTerminal(valid.json.orderId);
  });

  it('accepts a key of 255 characters', async () => {
    const res = await svc.placeOrder(orderBody(), withKey('k'.repeat(255)));
    expect(res.status).toBe(202);
    await svc.waitForTerminal(res.json.orderId);
  });
});

/** Invariant 6: bad input gets a clear 4xx with a machine-readable code, and changes nothing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, orderBody, totalOrders, type ApiErrorBody } from '../helpers/api.js';
import type { RequestOptions } from '../helpers/http.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';

let svc: Service;

beforeAll(async () => {
  svc = await startService({ env: { ORDERFLOW_RATE_LIMIT: '0' } });
});

afterAll(async () => {
  await stopAllServices();
});

const valid = (): Record<string, unknown> => ({ ...orderBody({ sku: 'A123', qty: 1 }) });

function without(field: string): Record<string, unknown> {
  const body = valid();
  delete body[field];
  return body;
}

function withItems(items: unknown): Record<string, unknown> {
  return { ...valid(), items };
}

function withQty(qty: unknown): Record<string, unknown> {
  return withItems([{ sku: 'A123', qty }]);
}

const VALID_JSON = JSON.stringify(valid());

interface BadInput {
  readonly name: string;
  readonly request: RequestOptions;
  readonly status: number;
  readonly code: string;
}

const CASES: readonly BadInput[] = [
  {
    name: 'text/plain body',
    request: { raw: VALID_JSON, contentType: 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'broken JSON',
    request: { raw: '{"customerId": "c1", "items": [', contentType: 'application/json' },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'empty JSON body',
    request: { raw: '', contentType: 'application/json' },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a JSON array instead of an object',
    request: { body: [valid()] },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a JSON string instead of an object',
    request: { body: 'order' },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'missing customerId',
    request: { body: without('customerId') },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'missing email',
    request: { body: without('email') },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'missing items',
    request: { body: without('items') },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'missing paymentMethod',
    request: { body: without('paymentMethod') },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'empty customerId',
    request: { body: { ...valid(), customerId: '' } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'customerId of 129 characters',
    request: { body: { ...valid(), customerId: 'c'.repeat(129) } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'customerId not a string',
    request: { body: { ...valid(), customerId: 42 } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a bad email',
    request: { body: { ...valid(), email: 'not-an-email' } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'an email of 255 characters',
    request: { body: { ...valid(), email: `${'e'.repeat(243)}@example.com` } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'paymentMethod of 129 characters',
    request: { body: { ...valid(), paymentMethod: 'p'.repeat(129) } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'empty paymentMethod',
    request: { body: { ...valid(), paymentMethod: '' } },
    status: 400,
    code: 'validation_error',
  },
  { name: 'qty 0', request: { body: withQty(0) }, status: 400, code: 'validation_error' },
  { name: 'qty −1', request: { body: withQty(-1) }, status: 400, code: 'validation_error' },
  { name: 'qty 1.5', request: { body: withQty(1.5) }, status: 400, code: 'validation_error' },
  {
    name: 'qty "2" (a string)',
    request: { body: withQty('2') },
    status: 400,
    code: 'validation_error',
  },
  { name: 'qty 10001', request: { body: withQty(10_001) }, status: 400, code: 'validation_error' },
  {
    name: 'qty missing',
    request: { body: withItems([{ sku: 'A123' }]) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'sku of 65 characters',
    request: { body: withItems([{ sku: 'S'.repeat(65), qty: 1 }]) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'empty sku',
    request: { body: withItems([{ sku: '', qty: 1 }]) },
    status: 400,
    code: 'validation_error',
  },
  { name: 'empty items', request: { body: withItems([]) }, status: 400, code: 'validation_error' },
  {
    name: '101 items',
    request: { body: withItems(Array.from({ length: 101 }, () => ({ sku: 'A123', qty: 1 }))) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'items not an array',
    request: { body: withItems({ sku: 'A123', qty: 1 }) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a non-object item',
    request: { body: withItems(['A123']) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a null item',
    request: { body: withItems([null]) },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'an unknown SKU',
    request: { body: withItems([{ sku: 'NO-SUCH-SKU', qty: 1 }]) },
    status: 422,
    code: 'unknown_sku',
  },
  {
    name: 'an unknown SKU beside a known one',
    request: {
      body: withItems([
        { sku: 'A123', qty: 1 },
        { sku: 'NOPE', qty: 1 },
      ]),
    },
    status: 422,
    code: 'unknown_sku',
  },
  {
    name: 'a "__proto__" key',
    request: {
      raw: `${VALID_JSON.slice(0, -1)},"__proto__":{"polluted":true}}`,
      contentType: 'application/json',
    },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'an Idempotency-Key of 256 characters',
    request: { body: valid(), headers: { 'idempotency-key': 'k'.repeat(256) } },
    status: 400,
    code: 'validation_error',
  },
  {
    name: 'a 2 MB body',
    request: {
      raw: JSON.stringify({ ...valid(), customerId: 'x'.repeat(2 * 1024 * 1024) }),
      contentType: 'application/json',
    },
    status: 413,
    code: 'payload_too_large',
  },
];

describe('bad input on POST /v1/orders', () => {
  it('has at least 15 kinds of bad input', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  it.each(CASES)('$name → $status $code, nothing changes', async ({ request, status, code }) => {
    const availableBefore = (await svc.product('A123')).available;
    const ordersBefore = totalOrders(await svc.stats());

    const res = await svc.request<ApiErrorBody>('POST', '/v1/orders', {
      key: 'client',
      ...request,
    });

    expect({ status: res.status, code: errorCode(res.json) }).toEqual({ status, code });
    expect(typeof res.json.error.message).toBe('string');
    expect(res.json.error.message.length).toBeGreaterThan(0);
    expect((await svc.product('A123')).available).toBe(availableBefore);
    expect(totalOrders(await svc.stats())).toBe(ordersBefore);
  });

  it('after a "__proto__" body the service still behaves normally: nothing polluted', async () => {
    const polluting = `${VALID_JSON.slice(0, -1)},"__proto__":{"polluted":true,"status":"COMPLETED","isAdmin":true}}`;
    const first = await svc.request('POST', '/v1/orders', {
      key: 'client',
      raw: polluting,
      contentType: 'application/json',
    });
    expect(first.status).toBe(400);

    const res = await svc.placeOrder(orderBody({ sku: 'A123', qty: 1 }));
    expect(res.status).toBe(202);
    expect(res.json).not.toHaveProperty('polluted');
    expect(res.json.status).toBe('PENDING');
    const order = await svc.waitForTerminal(res.json.orderId);
    expect(order).not.toHaveProperty('polluted');
    expect(order.status).toBe('COMPLETED');
    const stats = await svc.stats();
    expect(stats).not.toHaveProperty('polluted');
    expect(stats.orders).not.toHaveProperty('polluted');

    const unknownRoute = await svc.request('GET', '/v1/products/polluted', { key: 'client' });
    expect(unknownRoute.status).toBe(404);
  });
});

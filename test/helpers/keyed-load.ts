import { randomUUID } from 'node:crypto';
import { errorCode, orderBody } from './api.js';
import type { LoadAnswer } from './load.js';
import type { Service } from './service.js';
import { sleep } from './wait.js';

/** One client's order: one Idempotency-Key and one body, sent until it got its 202. */
export interface KeyedOrder {
  readonly key: string;
  /** Every answer the key got, in order (`error` is the error code, or the exception). */
  readonly answers: LoadAnswer[];
  /** The order its 202 named; undefined if it never got one. */
  orderId: string | undefined;
}

export interface KeyedLoad {
  /** Lets every client finish its current order (retrying it up to `settleMs`), then answers them all. */
  stop(settleMs?: number): Promise<KeyedOrder[]>;
}

/**
 * `loops` clients per service, each placing orders of `sku` one after the other the way a
 * careful checkout does: a 503 is retried after its Retry-After, a 409 (the first try still
 * in flight) and a lost connection soon after, always with the same key and the same body,
 * until a 202. Any other answer ends that order.
 */
export function startKeyedLoad(services: readonly Service[], sku: string, loops = 2): KeyedLoad {
  const orders: KeyedOrder[] = [];
  let running = true;
  let giveUpAt = Number.POSITIVE_INFINITY;

  const placeUntilAccepted = async (service: Service, order: KeyedOrder): Promise<void> => {
    const body = orderBody({ sku, qty: 1 });
    const headers = { 'idempotency-key': order.key };
    while (Date.now() < giveUpAt) {
      let answer: LoadAnswer;
      try {
        const res = await service.placeOrder(body, { headers, timeoutMs: 10_000 });
        const retryAfter: string | string[] | undefined = res.headers['retry-after'];
        answer = {
          status: res.status,
          retryAfter: typeof retryAfter === 'string' ? retryAfter : retryAfter?.[0],
          orderId: res.status === 202 ? res.json.orderId : undefined,
          error: errorCode(res.json),
        };
      } catch (error) {
        answer = { status: 0, retryAfter: undefined, orderId: undefined, error: String(error) };
      }
      order.answers.push(answer);
      if (answer.status === 202) {
        order.orderId = answer.orderId;
        return;
      }
      if (answer.status === 503) await sleep(Number(answer.retryAfter ?? 1) * 1000);
      else if (answer.status === 409 || answer.status === 0) await sleep(100);
      else return;
    }
  };

  const loop = async (service: Service): Promise<void> => {
    while (running) {
      const order: KeyedOrder = { key: randomUUID(), answers: [], orderId: undefined };
      orders.push(order);
      await placeUntilAccepted(service, order);
    }
  };
  const all = services.flatMap((service) => Array.from({ length: loops }, () => loop(service)));
  return {
    stop: async (settleMs = 60_000) => {
      running = false;
      giveUpAt = Date.now() + settleMs;
      await Promise.all(all);
      return orders;
    },
  };
}

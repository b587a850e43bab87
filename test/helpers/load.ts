import { orderBody } from './api.js';
import type { Service } from './service.js';

export interface LoadAnswer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly orderId: string | undefined;
  readonly error: string | undefined;
}

export interface Load {
  /** Stops the loops and answers every answer they got. */
  stop(): Promise<LoadAnswer[]>;
}

/**
 * `loops` clients per service posting orders of `sku` one after the other until stopped;
 * connection errors (a process killed, an engine down) are recorded, not thrown.
 */
export function startLoad(services: readonly Service[], sku: string, loops = 3): Load {
  const answers: LoadAnswer[] = [];
  let running = true;
  const loop = async (service: Service): Promise<void> => {
    while (running) {
      try {
        const res = await service.placeOrder(orderBody({ sku, qty: 1 }), { timeoutMs: 10_000 });
        const retryAfter: string | string[] | undefined = res.headers['retry-after'];
        answers.push({
          status: res.status,
          retryAfter: typeof retryAfter === 'string' ? retryAfter : retryAfter?.[0],
          orderId: res.status === 202 ? res.json.orderId : undefined,
          error: undefined,
        });
      } catch (error) {
        answers.push({
          status: 0,
          retryAfter: undefined,
          orderId: undefined,
          error: String(error),
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const all = services.flatMap((service) => Array.from({ length: loops }, () => loop(service)));
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
      return answers;
    },
  };
}

export { sleep } from './wait.js';

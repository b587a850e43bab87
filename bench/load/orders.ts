import http from 'node:http';
import type { Target } from '../variants/target.js';

/** The body every load posts: one line of one SKU, paid with Stripe's succeeding test card. */
export function orderBody(sku: string, qty = 1): string {
  return JSON.stringify({
    customerId: 'bench',
    email: 'bench@example.com',
    items: [{ sku, qty }],
    paymentMethod: 'pm_card_visa',
  });
}

/** `count` SKUs named `<prefix>-0` … all given `onHand` units. */
export async function stockSkus(
  target: Target,
  prefix: string,
  count: number,
  onHand: number,
): Promise<string[]> {
  const skus = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  for (const sku of skus) await target.setStock(sku, onHand);
  return skus;
}

export interface Answer {
  readonly status: number;
  /** The order id of a 202; undefined otherwise. */
  readonly orderId: string | undefined;
  /** Date.now() when the answer was read. */
  readonly at: number;
  /** Milliseconds from sending to the whole answer. */
  readonly ms: number;
}

/** One POST /v1/orders; a network error or a 30 s wait answers status 0. */
export function postOrder(target: Target, agent: http.Agent, body: string): Promise<Answer> {
  const sent = performance.now();
  return new Promise((resolve) => {
    const finish = (status: number, orderId: string | undefined): void =>
      resolve({ status, orderId, at: Date.now(), ms: performance.now() - sent });
    const req = http.request(
      target.url + '/v1/orders',
      {
        method: 'POST',
        agent,
        timeout: 30_000,
        headers: {
          ...target.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let orderId: string | undefined;
          if (res.statusCode === 202) {
            try {
              orderId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderId?: string })
                .orderId;
            } catch {
              orderId = undefined;
            }
          }
          finish(res.statusCode ?? 0, orderId);
        });
        res.on('error', () => finish(0, undefined));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(0, undefined));
    req.end(body);
  });
}

/** Answers counted by HTTP status ("0" = no answer). */
export function countStatuses(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

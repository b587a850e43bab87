import fs from 'node:fs';
import path from 'node:path';
import { DECLINED, orderBody, type OrderInput, type OrderView } from './api.js';
import { REPO_ROOT, type Service } from './service.js';
import { mapLimit, waitFor } from './wait.js';

/** Built by `npm run build` from test/fixtures: writes `<id> <status>` lines to a file. */
export const LEDGER_CONSUMER = path.join(REPO_ROOT, 'dist/test/fixtures/ledger-consumer.js');
/** Built from test/fixtures: dead-letters every COMPLETED order at its first attempt. */
export const POISON_CONSUMER = path.join(REPO_ROOT, 'dist/test/fixtures/poison-consumer.js');

/** The orders the ledger consumer has written to `file`. */
export function ledgerOrders(file: string): Set<string> {
  if (!fs.existsSync(file)) return new Set();
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return new Set(lines.map((line) => line.split(' ')[0] ?? ''));
}

export function waitForLedger(file: string, orderIds: readonly string[]): Promise<true> {
  return waitFor(() => (orderIds.every((id) => ledgerOrders(file).has(id)) ? true : undefined), {
    timeoutMs: 30_000,
    what: `the ledger consumer to see ${orderIds.length} orders`,
  });
}

/** A mix of outcomes: completed, out of stock (B456), declined. */
function mixedBody(i: number): OrderInput {
  if (i % 5 === 3) return orderBody({ sku: 'B456' });
  if (i % 5 === 4) return orderBody({ paymentMethod: DECLINED });
  return orderBody({ sku: 'A123' });
}

/** Places `size` orders of mixed outcomes and waits for each to end; records them in `placed`. */
export async function placeMixedBatch(
  service: Service,
  size: number,
  placed: Map<string, OrderView>,
): Promise<string[]> {
  const bodies = Array.from({ length: size }, (_, i) => mixedBody(i));
  const accepted = await mapLimit(bodies, 8, (body) => service.placeAccepted(body));
  const ids = accepted.map((order) => order.orderId);
  await mapLimit(ids, 8, async (id) => {
    placed.set(id, await service.waitForTerminal(id, 30_000));
  });
  return ids;
}

interface ReplayJob {
  readonly jobId: string;
  readonly from: number;
  readonly through: number;
  readonly delivered: number;
  readonly done: boolean;
}

/** Replays `consumer` from a time and waits until its job says done; resolves to the job. */
export async function replayToEnd(
  service: Service,
  consumer: string,
  fromTime: number,
): Promise<ReplayJob> {
  const asked = await service.request<ReplayJob>('POST', '/v1/admin/replay', {
    key: 'admin',
    body: { consumer, fromTime },
  });
  if (asked.status >= 300) throw new Error(`replay answered ${asked.status}: ${asked.text}`);
  return waitFor(
    async () => {
      const job = await service.request<ReplayJob>(
        'GET',
        `/v1/admin/replay/${encodeURIComponent(asked.json.jobId)}`,
        { key: 'admin' },
      );
      return job.status === 200 && job.json.done ? job.json : undefined;
    },
    { timeoutMs: 30_000, what: `the replay of ${consumer} to finish` },
  );
}

/** What `/v1/admin/dlq` lists for one consumer (up to 200). */
export async function deadLettersOf(
  service: Service,
  consumer: string,
): Promise<{ id: string; event: { key: string } }[]> {
  const res = await service.request<{ deadLetters: { id: string; event: { key: string } }[] }>(
    'GET',
    `/v1/admin/dlq?consumer=${consumer}&limit=200`,
    { key: 'admin' },
  );
  if (res.status !== 200) throw new Error(`GET /v1/admin/dlq answered ${res.status}: ${res.text}`);
  return res.json.deadLetters;
}

/** Discards every letter given, through the API. */
export async function discardAll(
  service: Service,
  letters: readonly { id: string }[],
): Promise<void> {
  for (const letter of letters) {
    const res = await service.request('DELETE', `/v1/admin/dlq/${encodeURIComponent(letter.id)}`, {
      key: 'admin',
    });
    if (res.status >= 300) throw new Error(`DELETE dlq answered ${res.status}: ${res.text}`);
  }
}

export function countAll(counts: Partial<Record<string, number>>): number {
  return Object.values(counts).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

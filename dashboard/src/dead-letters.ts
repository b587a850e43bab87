import { call, messageOf, query, seg } from './api';
import type { DeadLetterPage } from './types';

/** The dead-letter calls of the DLQ tab, so the component only decides what to show. */

export const DLQ_PAGE_SIZE = 100;

export function deadLetterPage(cursor?: string): Promise<DeadLetterPage> {
  return call<DeadLetterPage>('GET', `/v1/admin/dlq${query({ cursor, limit: DLQ_PAGE_SIZE })}`);
}

export function redrive(id: string): Promise<unknown> {
  return call('POST', `/v1/admin/dlq/${seg(id)}/redrive`);
}

export function discard(id: string): Promise<unknown> {
  return call('DELETE', `/v1/admin/dlq/${seg(id)}`);
}

/**
 * Redrives every dead letter. The ids are collected first, page by page, so that redriving
 * (which removes letters from the list) cannot make the paging skip any.
 */
export async function redriveAll(progress: (done: number, total: number) => void): Promise<{
  redriven: number;
  failed: number;
  lastError?: string;
}> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await deadLetterPage(cursor);
    ids.push(...page.deadLetters.map((letter) => letter.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);

  let redriven = 0;
  let failed = 0;
  let lastError: string | undefined;
  for (const id of ids) {
    try {
      await redrive(id);
      redriven += 1;
    } catch (error) {
      failed += 1;
      lastError = messageOf(error);
    }
    progress(redriven + failed, ids.length);
  }
  return { redriven, failed, lastError };
}

/**
 * Dead letters through the `orderflow dlq` commands: a consumer that always fails fills the
 * DLQ. It is added in this test's process (a child service cannot take a test's consumer);
 * the CLI still runs as child processes over a real socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConsumer } from '../../src/workflow/define-consumer.js';
import { DEFAULT_KEYS } from '../helpers/http.js';
import {
  eventually,
  placeOrder,
  startInProcess,
  type InProcessService,
} from '../helpers/in-process.js';
import { describeRun, jsonOf, runCli, type CliRun } from './run-cli.js';

const ORDERS = 3;

interface Letter {
  id: string;
  consumer: string;
  attempts: number;
  lastError: string;
  event: { key: string };
}

let service: InProcessService;

/** Deliveries the failing consumer was handed, per order. */
const handedOut = new Map<string, number>();

const failing = defineConsumer({
  name: 'always-fails',
  on: ['COMPLETED'],
  retry: { attempts: 1 },
  handle: ({ order }) => {
    handedOut.set(order.orderId, (handedOut.get(order.orderId) ?? 0) + 1);
    return Promise.reject(new Error('the test consumer always fails'));
  },
});

async function deadLetters(): Promise<Letter[]> {
  const res = await service.request<{ deadLetters: Letter[] }>('GET', '/v1/admin/dlq', {
    key: 'admin',
  });
  return res.json.deadLetters;
}

beforeAll(async () => {
  service = await startInProcess({ consumers: [failing] });
  for (let n = 0; n < ORDERS; n++) await placeOrder(service);
  await eventually(
    async () => ((await deadLetters()).length === ORDERS ? true : undefined),
    30_000,
    `${ORDERS} dead letters`,
  );
});

afterAll(async () => {
  await service?.close();
});

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli([...args, '--url', service.url], { ORDERFLOW_ADMIN_KEY: DEFAULT_KEYS.admin });
}

describe('orderflow dlq', () => {
  it('list: by consumer and by last error, paged by the service', async () => {
    type Page = { deadLetters: Letter[]; nextCursor?: string };
    const run = await cli(['dlq', 'list', '--consumer', 'always-fails', '--limit', '2', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    const page = jsonOf<Page>(run);
    expect(page.deadLetters).toHaveLength(2);
    expect(page.deadLetters.every(({ consumer }) => consumer === 'always-fails')).toBe(true);
    expect(page.nextCursor).toEqual(expect.any(String));
    const next = jsonOf<Page>(
      await cli([
        ...['dlq', 'list', '--consumer', 'always-fails', '--limit', '2'],
        ...['--cursor', page.nextCursor ?? '', '--json'],
      ]),
    );
    expect(next.deadLetters).toHaveLength(1);
    expect(next.nextCursor).toBeUndefined();
    const ids = [...page.deadLetters, ...next.deadLetters].map(({ id }) => id);
    expect(new Set(ids).size).toBe(ORDERS);

    const other = jsonOf<Page>(await cli(['dlq', 'list', '--consumer', 'analytics', '--json']));
    expect(other.deadLetters).toEqual([]);
    const byError = jsonOf<Page>(await cli(['dlq', 'list', '--error', 'always fails', '--json']));
    expect(byError.deadLetters).toHaveLength(ORDERS);
    const noMatch = jsonOf<Page>(await cli(['dlq', 'list', '--error', 'Always', '--json']));
    expect(noMatch.deadLetters).toEqual([]);

    const text = await cli(['dlq', 'list', '--limit', '2']);
    expect(text.code, describeRun(text)).toBe(0);
    expect(text.stdout).toMatch(/^ID\s+CONSUMER\s+EVENT\s+ORDER\s+ATTEMPTS\s+AT\s+LAST ERROR$/m);
    expect(text.stdout).toMatch(/^2 dead letter\(s\); next page: --cursor \S+$/m);
    const none = await cli(['dlq', 'list', '--consumer', 'analytics']);
    expect(none.stdout.trim()).toBe('no dead letters of analytics');
    const tooMany = await cli(['dlq', 'list', '--limit', '1001']);
    expect(tooMany.code, describeRun(tooMany)).toBe(1);
  });

  it('show: one letter in full', async () => {
    const [letter] = await deadLetters();
    if (!letter) throw new Error('no dead letter');
    const run = await cli(['dlq', 'show', letter.id, '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(jsonOf(run)).toMatchObject({
      id: letter.id,
      consumer: 'always-fails',
      lastError: expect.stringContaining('always fails') as unknown,
    });
    const missing = await cli(['dlq', 'show', 'no-such-letter']);
    expect(missing.code, describeRun(missing)).toBe(2);
  });

  it('redrive --all --error: nothing when no last error matches', async () => {
    const run = await cli(['dlq', 'redrive', '--all', '--error', 'no such error', '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(jsonOf(run)).toEqual({ redriven: [], failed: [] });
  });

  it('redrive --all: each letter once more, with a progress bar on stderr', async () => {
    const before = await deadLetters();
    const handedBefore = new Map(handedOut);
    const run = await cli([
      ...['dlq', 'redrive', '--all', '--consumer', 'always-fails'],
      ...['--error', 'always fails', '--progress', '--json'],
    ]);
    expect(run.code, describeRun(run)).toBe(0);
    const result = jsonOf<{ redriven: string[]; failed: unknown[] }>(run);
    expect(result.redriven.sort()).toEqual(before.map(({ id }) => id).sort());
    expect(result.failed).toEqual([]);
    expect(run.stderr).toContain(`redriving [${'#'.repeat(30)}] ${ORDERS}/${ORDERS} 100%`);
    // Each was delivered once more, as a first attempt of a fresh set (the consumer makes
    // one): it failed again and is back, once.
    await eventually(
      async () => {
        const after = await deadLetters();
        const again = before.every(
          ({ event }) => handedOut.get(event.key) === (handedBefore.get(event.key) ?? 0) + 1,
        );
        return again && after.length === ORDERS && after.every(({ attempts }) => attempts === 1)
          ? true
          : undefined;
      },
      30_000,
      'the redriven letters to fail once more',
    );
  });

  it('discard: a letter gone for good, a second discard of it refused', async () => {
    const before = await deadLetters();
    const letter = before[0];
    if (!letter) throw new Error('no dead letter');
    const run = await cli(['dlq', 'discard', letter.id, '--json']);
    expect(run.code, describeRun(run)).toBe(0);
    expect(jsonOf(run)).toEqual({ discarded: [letter.id] });
    const after = await deadLetters();
    expect(after.map(({ id }) => id)).not.toContain(letter.id);
    expect(after).toHaveLength(before.length - 1);
    const again = await cli(['dlq', 'discard', letter.id]);
    expect(again.code, describeRun(again)).toBe(2);
  });

  it('redrive needs an id or --all', async () => {
    const run = await cli(['dlq', 'redrive']);
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stderr).toContain('--all');
  });
});

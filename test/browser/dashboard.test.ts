/**
 * The operator dashboard in a real browser (Debian's chromium, driven by playwright-core)
 * against orderflow on a real socket — embedded (SQLite files) and scale-out (Redis, NATS,
 * PostgreSQL) — with a shop consumer that fails on one customer's orders until it is fixed,
 * for a dead letter to redrive. Every step is watched without a reload; the page must print
 * no error. Screenshots land in test-results/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineConsumer } from '../../src/workflow/define-consumer.js';
import { browserAvailable, launchChromium, pageErrors, screenshot } from '../helpers/browser.js';
import { scaleOutGround, type ScaleOutGround } from '../helpers/cluster.js';
import { enginesUp } from '../helpers/engines.js';
import { DEFAULT_KEYS } from '../helpers/http.js';
import { eventually, startInProcess, type InProcessService } from '../helpers/in-process.js';

const POISON_CUSTOMER = 'poison';
const STEP_MS = 20_000;

interface Setup {
  readonly name: string;
  readonly ground?: () => Promise<ScaleOutGround>;
}

const SETUPS: readonly Setup[] = [
  { name: 'embedded' },
  ...((await enginesUp('redis', 'nats', 'postgres'))
    ? [{ name: 'scale-out', ground: () => scaleOutGround() }]
    : []),
];

for (const setup of SETUPS) {
  describe.skipIf(!browserAvailable())(`the dashboard in a browser (${setup.name})`, () => {
    let ground: ScaleOutGround | undefined;
    let service: InProcessService;
    let browser: Browser;
    let page: Page;
    let errors: string[];
    /** Until the test fixes it, the shop consumer refuses the poison customer's orders. */
    let fixed = false;

    const shop = defineConsumer({
      name: 'shop-erp',
      on: ['COMPLETED'],
      retry: { attempts: 2, baseDelayMs: 50 },
      handle: ({ order }) =>
        order.customerId === POISON_CUSTOMER && !fixed
          ? Promise.reject(new Error('the ERP refused this order'))
          : Promise.resolve(),
    });

    beforeAll(async () => {
      ground = await setup.ground?.();
      const env = Object.entries(ground?.env ?? {}).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, value] as const],
      );
      service = await startInProcess({ env: Object.fromEntries(env), consumers: [shop] });
      // The shop's PostgreSQL has its own catalog: the scale-out set starts with none.
      const put = await service.request('PUT', '/v1/admin/products/A123', {
        key: 'admin',
        body: { name: 'Widget', price: { amount: 1999, currency: 'USD' }, onHand: 100 },
      });
      expect(put.status).toBe(200);
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(STEP_MS);
      errors = pageErrors(page);
    });

    // After each step: the page printed no error (console or uncaught) while it ran.
    afterEach(() => {
      expect(errors.splice(0)).toEqual([]);
    });

    afterAll(async () => {
      await browser?.close();
      await service?.close();
      await ground?.destroy();
    });

    const text = (testId: string) => page.getByTestId(testId).innerText();
    const number = async (testId: string) =>
      Number(((await page.getByTestId(testId).textContent()) ?? '').replace(/[^\d.]/g, ''));
    const placeOrders = async (count: number, customerId = 'c1'): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const placed = await service.request<{ orderId: string }>('POST', '/v1/orders', {
          key: 'client',
          body: {
            customerId,
            email: `${customerId}@example.com`,
            items: [{ sku: 'A123', qty: 1 }],
            paymentMethod: 'pm_card_visa',
          },
        });
        expect(placed.status).toBe(202);
        ids.push(placed.json.orderId);
      }
      return ids;
    };
    /** The chart's pixels, as a data URL: what the operator sees of it. */
    const chartImage = () =>
      page
        .getByTestId('rate-chart')
        .locator('canvas')
        .evaluate((canvas) => (canvas as unknown as { toDataURL(): string }).toDataURL());
    const until = (check: () => Promise<boolean>, what: string) =>
      eventually(async () => ((await check()) ? true : undefined), STEP_MS, what);

    it('refuses a wrong key and a client key, and shows no data without a key', async () => {
      const other = await browser.newPage();
      await other.goto(`${service.url}/dashboard`);
      await other.getByTestId('login-key').fill('ak_wrong');
      await other.getByTestId('login-submit').click();
      await expect.poll(() => other.getByTestId('login-error').innerText()).toMatch(/not valid/);
      await other.getByTestId('login-key').fill(DEFAULT_KEYS.client);
      await other.getByTestId('login-submit').click();
      await expect.poll(() => other.getByTestId('login-error').innerText()).toMatch(/admin:read/);
      expect(await other.getByTestId('count-PENDING').count()).toBe(0);
      expect(await other.getByTestId('rate-chart').count()).toBe(0);
      await screenshot(other, `dashboard-${setup.name}-login-refused`);
      await other.close();
    });

    it('logs in and follows orders live: the counts, the graph and the chart change without reload', async () => {
      await page.goto(`${service.url}/dashboard`);
      await page.getByTestId('login-key').fill(DEFAULT_KEYS.admin);
      await page.getByTestId('login-submit').click();
      await until(async () => (await text('live-status')) === 'live', 'the live stream');
      await page.getByTestId('rate-chart').locator('canvas').waitFor();
      const chartBefore = await chartImage();
      const completedBefore = await number('count-COMPLETED');
      const edgeBefore = await number('edge-PAID-COMPLETED');

      await placeOrders(6);
      await until(
        async () => (await number('count-COMPLETED')) >= completedBefore + 6,
        'six more COMPLETED',
      );
      await until(
        async () => (await number('edge-PAID-COMPLETED')) >= edgeBefore + 6,
        'the PAID→COMPLETED edge counting them',
      );
      await until(async () => (await chartImage()) !== chartBefore, 'the chart drawing the orders');
      await until(
        async () => !(await text('latency-p50')).includes('–'),
        'a latency over the completed orders',
      );
      await until(async () => (await page.getByTestId('hot-A123').count()) === 1, 'A123 as hot');
      expect(await page.getByTestId('consumer-shop-erp-lag').count()).toBe(1);
      await screenshot(page, `dashboard-${setup.name}-overview`);
    });

    it('shows a dead letter, inspects it, and redrives it by clicking: the count drops to 0', async () => {
      const [poison] = await placeOrders(1, POISON_CUSTOMER);
      await until(async () => (await number('consumer-shop-erp-dlq')) === 1, 'one dead letter');
      await page.getByTestId('tab-dlq').click();
      await expect.poll(() => page.getByTestId('dlq-row').count()).toBe(1);
      expect(await page.getByTestId('dlq-row').innerText()).toContain('the ERP refused this order');
      await page.getByTestId('dlq-inspect').click();
      expect(await text('dlq-payload')).toContain(poison ?? 'no order');
      await screenshot(page, `dashboard-${setup.name}-dead-letters`);

      fixed = true;
      await page.getByTestId('dlq-redrive').click();
      await page.getByTestId('confirm-dialog').waitFor();
      await page.getByTestId('confirm-yes').click();
      await page.getByTestId('dlq-empty').waitFor();
      await page.getByTestId('tab-overview').click();
      await until(async () => (await number('consumer-shop-erp-dlq')) === 0, 'no dead letter');
    });

    it('redrives every dead letter at once, after a confirmation that can be declined', async () => {
      fixed = false;
      await placeOrders(2, POISON_CUSTOMER);
      await until(async () => (await number('consumer-shop-erp-dlq')) === 2, 'two dead letters');
      await page.getByTestId('tab-dlq').click();
      await expect.poll(() => page.getByTestId('dlq-row').count()).toBe(2);
      await page.getByTestId('dlq-redrive-all').click();
      await page.getByTestId('confirm-no').click();
      expect(await page.getByTestId('dlq-row').count()).toBe(2);

      fixed = true;
      await page.getByTestId('dlq-redrive-all').click();
      await page.getByTestId('confirm-yes').click();
      await page.getByTestId('dlq-empty').waitFor();
      expect(await text('dlq-result')).toContain('2');
      await page.getByTestId('tab-overview').click();
      await until(async () => (await number('consumer-shop-erp-dlq')) === 0, 'no dead letter');
    });

    it("looks an order up: its status, items, history and each consumer's attempts", async () => {
      const [orderId] = await placeOrders(1);
      await page.getByTestId('tab-orders').click();
      await page.getByTestId('order-id').fill(orderId ?? '');
      await until(async () => {
        await page.getByTestId('order-lookup').click();
        return (await text('order-status').catch(() => '')) === 'COMPLETED';
      }, 'the order COMPLETED');
      expect(await text('order-items')).toContain('A123');
      expect(await text('order-history')).toContain('RESERVED');
      await until(
        async () => (await page.getByTestId('timeline-event').count()) >= 4,
        'the timeline of its four status changes',
      );
      expect(await text('order-timeline')).toContain('shop-erp');
      await screenshot(page, `dashboard-${setup.name}-order`);
    });

    it('sets the on-hand stock of a SKU and shows available and reserved', async () => {
      await page.getByTestId('tab-stock').click();
      await page.getByTestId('stock-sku').fill('A123');
      await page.getByTestId('stock-load').click();
      await page.getByTestId('stock-onhand').waitFor();
      await page.getByTestId('stock-set-onhand').fill('250');
      await page.getByTestId('stock-set').click();
      await until(async () => (await text('stock-onhand')) === '250', 'on hand 250');
      await page.getByTestId('stock-result').waitFor();
      const product = await service.request<{ onHand: number; available: number }>(
        'GET',
        '/v1/admin/products/A123',
        { key: 'admin' },
      );
      expect(product.json.onHand).toBe(250);
      expect(await number('stock-available')).toBe(product.json.available);
      expect(await text('stock-reserved')).toMatch(/^\d+$/);
      await screenshot(page, `dashboard-${setup.name}-stock`);
    });
  });
}

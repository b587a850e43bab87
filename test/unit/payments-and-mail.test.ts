import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutboxMailer } from '../../src/adapters/mail/outbox-mailer.js';
import { SimulatedPayments } from '../../src/adapters/payments/simulated-payments.js';
import { newOrder } from '../../src/domain/order.js';
import { statusEmail } from '../../src/workflow/email-templates.js';

const usd = (amount: number) => ({ amount, currency: 'USD' });
const charge = (paymentMethod: string, key: string) => ({
  orderId: key,
  amount: usd(100),
  paymentMethod,
  idempotencyKey: key,
});

describe('simulated payments', () => {
  it('follows Stripe test payment methods', async () => {
    const payments = new SimulatedPayments(0);
    expect(await payments.charge(charge('pm_card_visa', 'a'))).toMatchObject({
      status: 'succeeded',
    });
    expect(await payments.charge(charge('pm_card_chargeDeclined', 'b'))).toMatchObject({
      status: 'declined',
    });
    expect(await payments.charge(charge('pm_bogus', 'c'))).toMatchObject({ status: 'declined' });
    expect(await payments.charge(charge('pm_card_authenticationRequired', 'd'))).toMatchObject({
      status: 'pending',
    });
  });
  it('answers a retried key the same, also in a new process', async () => {
    const first = await new SimulatedPayments(0.5).charge(charge('pm_card_visa', 'k1'));
    const again = await new SimulatedPayments(0.5).charge(charge('pm_card_visa', 'k1'));
    expect(again).toEqual(first);
  });
  it('remembers the latest payments only, and answers a forgotten key the same', async () => {
    const payments = new SimulatedPayments(0, 3);
    const charged = [];
    for (let i = 0; i < 5; i += 1)
      charged.push(
        await payments.charge({ ...charge('pm_card_visa', `key-${i}`), orderId: `o${i}` }),
      );
    expect(await payments.find('o0')).toEqual({ status: 'none' });
    expect(await payments.find('o1')).toEqual({ status: 'none' });
    expect(await payments.find('o4')).toMatchObject({ status: 'succeeded' });
    expect(await payments.charge({ ...charge('pm_card_visa', 'key-0'), orderId: 'o0' })).toEqual(
      charged[0],
    );
    expect(await payments.find('o0')).toMatchObject({ status: 'succeeded' });
    expect(await payments.find('o2')).toEqual({ status: 'none' });
  });
  it('declines about the configured share at random', async () => {
    const payments = new SimulatedPayments(0.3);
    let declined = 0;
    for (let i = 0; i < 2000; i += 1) {
      const result = await payments.charge(charge('pm_card_visa', `order-${i}`));
      if (result.status === 'declined') declined += 1;
    }
    expect(declined / 2000).toBeGreaterThan(0.25);
    expect(declined / 2000).toBeLessThan(0.35);
  });
});

const order = newOrder({
  orderId: 'ord-1',
  customerId: 'c1',
  email: 'c1@example.com',
  items: [{ sku: 'A123', qty: 2, unitPrice: usd(1999) }],
  total: usd(3998),
  paymentMethod: 'pm_card_visa',
  owner: 'o',
  clientIp: '10.0.0.1',
  createdAt: new Date(0).toISOString(),
});

describe('status emails', () => {
  it('names the order and the status, with the summary in text and HTML', () => {
    const mail = statusEmail(order, 'COMPLETED');
    expect(mail.subject).toBe('Order ord-1 COMPLETED');
    expect(mail.to).toBe('c1@example.com');
    expect(mail.text).toContain('2 × A123 at 19.99 USD');
    expect(mail.text).toContain('Total: 39.98 USD');
    expect(mail.html).toContain('<strong>39.98 USD</strong>');
  });
  it('writes one .eml file per mail id in the outbox', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orderflow-outbox-'));
    try {
      const mailer = new OutboxMailer(dir, 'shop <shop@example.com>');
      await mailer.send(statusEmail(order, 'COMPLETED'));
      await mailer.send(statusEmail(order, 'COMPLETED'));
      await mailer.send(statusEmail(order, 'REFUNDED'));
      const files = (await readdir(dir)).sort();
      expect(files).toEqual(['ord-1.COMPLETED.eml', 'ord-1.REFUNDED.eml']);
      const eml = await readFile(join(dir, files[0] as string), 'utf8');
      expect(eml).toContain('Subject: Order ord-1 COMPLETED');
      expect(eml).toContain('Content-Type: text/html');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

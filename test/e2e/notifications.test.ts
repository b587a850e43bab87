/**
 * Exactly one email per order per terminal status, to the order's email, with the order id
 * and the status in the subject; redeliveries (a replay of the consumer group, a restart)
 * send nothing again. Through SMTP to a real test server, and without SMTP into the outbox.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECLINED, orderBody, TERMINAL_STATUSES, type OrderInput } from '../helpers/api.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { parseMail, startSmtp, type ReceivedMail, type SmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

let smtp: SmtpSink | undefined;

afterAll(async () => {
  await stopAllServices();
  await smtp?.close();
});

interface Expected {
  readonly orderId: string;
  readonly status: string;
  readonly email: string;
}

/** `Name <a@b>` → `a@b`. */
function addressOf(header: string): string {
  return /<([^>]+)>/.exec(header)?.[1] ?? header.trim();
}

/** One line per email: `<orderId> <STATUS> → <recipient>`, sorted; unknown subjects kept as they are. */
function summarize(mails: readonly ReceivedMail[], orderIds: readonly string[]): string[] {
  return mails
    .map((mail) => {
      const orderId = orderIds.find((id) => mail.subject.includes(id));
      const statuses = TERMINAL_STATUSES.filter((s) => new RegExp(`\\b${s}\\b`).test(mail.subject));
      const recipient = mail.rcptTo.length > 0 ? mail.rcptTo.join(',') : addressOf(mail.to);
      if (!orderId || statuses.length !== 1)
        return `unrecognized subject "${mail.subject}" → ${recipient}`;
      return `${orderId} ${statuses[0]} → ${recipient.toLowerCase()}`;
    })
    .sort();
}

function expectedLines(expected: readonly Expected[]): string[] {
  return expected.map((e) => `${e.orderId} ${e.status} → ${e.email.toLowerCase()}`).sort();
}

/**
 * One order per terminal status: COMPLETED, FAILED_NO_STOCK, PAYMENT_FAILED, and one
 * COMPLETED then cancelled → REFUNDED (two emails: COMPLETED and REFUNDED).
 */
async function placeOnePerTerminalStatus(svc: Service): Promise<Expected[]> {
  const expected: Expected[] = [];
  const run = async (body: OrderInput, status: string): Promise<string> => {
    const { orderId } = await svc.placeAccepted(body);
    const order = await svc.waitForTerminal(orderId);
    expect(order.status).toBe(status);
    expected.push({ orderId, status, email: body.email });
    return orderId;
  };
  await run(orderBody({ sku: 'A123' }), 'COMPLETED');
  await run(orderBody({ sku: 'B456' }), 'FAILED_NO_STOCK');
  await run(orderBody({ sku: 'A123', paymentMethod: DECLINED }), 'PAYMENT_FAILED');
  const refundedBody = orderBody({ sku: 'A123' });
  const refunded = await run(refundedBody, 'COMPLETED');
  expect((await svc.cancel(refunded)).status).toBe(202);
  await svc.waitForStatus(refunded, ['REFUNDED']);
  expected.push({ orderId: refunded, status: 'REFUNDED', email: refundedBody.email });
  return expected;
}

/**
 * The sentinel for "nothing more was sent": one more order, placed after the step under
 * test, whose email is expected too. The log hands the notifications group its events in
 * append order, so once the sentinel's email is in and the group has caught up (no lag,
 * nothing in flight), every event before it has been handled: whatever email those would
 * send has been sent.
 */
async function sentinelOrder(
  svc: Service,
  mails: () => readonly ReceivedMail[],
  expected: Expected[],
): Promise<void> {
  const body = orderBody({ sku: 'A123' });
  const { orderId } = await svc.placeAccepted(body);
  expect((await svc.waitForTerminal(orderId)).status).toBe('COMPLETED');
  expected.push({ orderId, status: 'COMPLETED', email: body.email });
  await waitFor(() => (mails().some((mail) => mail.subject.includes(orderId)) ? true : undefined), {
    timeoutMs: 30_000,
    what: `the email of the sentinel order ${orderId}`,
    describe: () => `${mails().length} emails there`,
  });
  await svc.waitForConsumerIdle('notifications', 30_000);
}

/** Replays the notifications group from the start and waits until it is past a sentinel. */
async function replayNotifications(
  svc: Service,
  mails: () => readonly ReceivedMail[],
  expected: Expected[],
): Promise<void> {
  await svc.replay('notifications', 1);
  await sentinelOrder(svc, mails, expected);
}

describe('notifications through SMTP', () => {
  let svc: Service;
  let expected: Expected[] = [];
  const ids = (): string[] => expected.map((e) => e.orderId);
  const mails = (): ReceivedMail[] => (smtp as SmtpSink).messages();

  beforeAll(async () => {
    smtp = await startSmtp();
    svc = await startService({
      env: {
        ORDERFLOW_SMTP_URL: smtp.url,
        ORDERFLOW_MAIL_FROM: 'orders@shop.example',
        ORDERFLOW_DECLINE_LIMIT: '0',
      },
    });
  });

  it('sends exactly one email per order per terminal status, to the order email', async () => {
    expected = await placeOnePerTerminalStatus(svc);
    await (smtp as SmtpSink).waitFor(expected.length, 30_000);
    await sentinelOrder(svc, mails, expected);
    expect(summarize(mails(), ids())).toEqual(expectedLines(expected));
    for (const mail of mails()) expect(mail.from).toContain('orders@shop.example');
  });

  it('a replay of the notifications group sends nothing again', async () => {
    await replayNotifications(svc, mails, expected);
    expect(summarize(mails(), ids())).toEqual(expectedLines(expected));
  });

  it('a restart sends nothing again', async () => {
    await svc.restart();
    await sentinelOrder(svc, mails, expected);
    expect(summarize(mails(), ids())).toEqual(expectedLines(expected));
  });

  it('a SIGKILL and restart send nothing again', async () => {
    await svc.kill('SIGKILL');
    await svc.restart();
    await sentinelOrder(svc, mails, expected);
    expect(summarize(mails(), ids())).toEqual(expectedLines(expected));
  });
});

describe('notifications without SMTP: the outbox folder', () => {
  let svc: Service;

  const outbox = (): ReceivedMail[] => {
    const dir = path.join(svc.dataDir, 'outbox');
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.eml'))
      .map((name) => parseMail(fs.readFileSync(path.join(dir, name), 'utf8')));
  };

  beforeAll(async () => {
    svc = await startService({ env: { ORDERFLOW_DECLINE_LIMIT: '0' } });
  });

  it('writes one .eml per order per terminal status, and nothing more on replay', async () => {
    const expected = await placeOnePerTerminalStatus(svc);
    const ids = (): string[] => expected.map((e) => e.orderId);
    await waitFor(() => (outbox().length >= expected.length ? true : undefined), {
      timeoutMs: 30_000,
      what: `${expected.length} .eml files in the outbox`,
      describe: () => `${outbox().length} there`,
    });
    await sentinelOrder(svc, outbox, expected);
    expect(summarize(outbox(), ids())).toEqual(expectedLines(expected));

    await replayNotifications(svc, outbox, expected);
    expect(summarize(outbox(), ids())).toEqual(expectedLines(expected));
  });
});

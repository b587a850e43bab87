/**
 * The content of the status emails, as a real SMTP server receives them from a real
 * service process: for every terminal status the subject names the order and the status,
 * and both the text and the HTML part carry the items (SKU, quantity, unit price), the
 * total and the status. Exactly one email per order per status, also after a replay of
 * the notifications group and after restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DECLINED,
  orderBody,
  type Money,
  type OrderInput,
  type OrderStatus,
  type OrderView,
} from '../helpers/api.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { parseHeaders, startSmtp, type ReceivedMail, type SmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';
const MAIL_FROM = 'orders@shop.example';
/** A second product, so that every email lists more than one line. */
const GIZMO = { sku: 'C789', name: 'Gizmo', price: { amount: 250, currency: 'USD' }, onHand: 50 };
const { sku: GIZMO_SKU, ...GIZMO_PRODUCT } = GIZMO;

// ── reading a MIME message ──────────────────────────────────────────────────────────

interface MimePart {
  readonly contentType: string;
  readonly body: string;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-Fa-f]{2})/g, (_all, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch (encoding?.toLowerCase()) {
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

/** The leaf parts of a message (multiparts opened, recursively), decoded. */
function leafParts(raw: string): MimePart[] {
  const normalized = raw.replace(/\r\n/g, '\n');
  const split = normalized.indexOf('\n\n');
  const headerBlock = split === -1 ? normalized : normalized.slice(0, split);
  const body = split === -1 ? '' : normalized.slice(split + 2);
  const headers = parseHeaders(`${headerBlock}\n\n`);
  const contentType = headers.get('content-type') ?? 'text/plain';
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (!mediaType.startsWith('multipart/')) {
    return [
      { contentType: mediaType, body: decodeBody(body, headers.get('content-transfer-encoding')) },
    ];
  }
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new Error(`multipart without a boundary: ${contentType}`);
  const delimiter = `--${boundary}`;
  const end = body.indexOf(`${delimiter}--`);
  return (end === -1 ? body : body.slice(0, end))
    .split(delimiter)
    .slice(1)
    .map((part) => part.replace(/^[ \t]*\n/, '').replace(/\n$/, ''))
    .flatMap((part) => leafParts(part));
}

function partOf(mail: ReceivedMail, mediaType: string): string {
  const parts = leafParts(mail.raw).filter((part) => part.contentType === mediaType);
  expect(parts, `${mediaType} parts of "${mail.subject}"`).toHaveLength(1);
  return (parts[0] as MimePart).body;
}

/** The text of each table row of an HTML body: one array of cell texts per `<tr>`. */
function htmlRows(html: string): string[][] {
  return [...html.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/gi)].map((row) =>
    [...(row[1] ?? '').matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/gi)].map((cell) =>
      htmlText(cell[1] ?? ''),
    ),
  );
}

/** Tags removed, entities decoded, white space collapsed. */
function htmlText(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_all, code: string) => String.fromCharCode(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_all, code: string) => String.fromCharCode(parseInt(code, 16)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `1999 USD` as the customer reads it, in parts: the amount with its decimals, the currency. */
function moneyParts({ amount, currency }: Money): [string, string] {
  return [(amount / 100).toFixed(2), currency];
}

const containsAll = (text: string, parts: readonly string[]): boolean =>
  parts.every((part) => new RegExp(`(^|[^\\w.])${escapeRegExp(part)}([^\\w.]|$)`).test(text));

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ── what was sent ───────────────────────────────────────────────────────────────────

interface Expected {
  readonly order: OrderView;
  readonly status: OrderStatus;
}

/** Checks one email against the order it is about: subject, recipient, both parts. */
function expectEmailAbout(mail: ReceivedMail, { order, status }: Expected): void {
  const what = `the ${status} email of ${order.orderId}`;
  expect(mail.subject, what).toContain(order.orderId);
  expect(mail.subject, what).toMatch(new RegExp(`\\b${status}\\b`));
  expect(mail.rcptTo, what).toEqual([order.email]);
  expect(mail.from, what).toContain(MAIL_FROM);

  const text = partOf(mail, 'text/plain');
  const lines = text.split(/\r?\n/);
  expect(text, `${what}: text part`).toContain(order.orderId);
  expect(text, `${what}: text part`).toMatch(new RegExp(`\\b${status}\\b`));
  for (const item of order.items) {
    const wanted = [item.sku, String(item.qty), ...moneyParts(item.unitPrice)];
    expect(
      lines.some((line) => containsAll(line, wanted)),
      `${what}: a text line with ${wanted.join(' ')} in\n${text}`,
    ).toBe(true);
  }
  const total = ['Total', ...moneyParts(order.total)];
  expect(
    lines.some((line) => containsAll(line, total)),
    `${what}: a text line with ${total.join(' ')} in\n${text}`,
  ).toBe(true);

  const html = partOf(mail, 'text/html');
  const visible = htmlText(html);
  expect(visible, `${what}: HTML part`).toContain(order.orderId);
  expect(visible, `${what}: HTML part`).toMatch(new RegExp(`\\b${status}\\b`));
  const rows = htmlRows(html);
  for (const item of order.items) {
    const wanted = [item.sku, String(item.qty), moneyParts(item.unitPrice).join(' ')];
    expect(
      rows.some((cells) => wanted.every((value) => cells.includes(value))),
      `${what}: an HTML row with ${wanted.join(' | ')} in ${JSON.stringify(rows)}`,
    ).toBe(true);
  }
  expect(containsAll(visible, total), `${what}: the total in the HTML part: ${visible}`).toBe(true);
}

/** `<orderId> <STATUS>` per email whose subject names one order and one terminal status. */
function tally(mails: readonly ReceivedMail[], orderIds: readonly string[]): string[] {
  return mails
    .map((mail) => {
      const orderId = orderIds.find((id) => mail.subject.includes(id)) ?? '?';
      const status = /\b(COMPLETED|FAILED_NO_STOCK|PAYMENT_FAILED|CANCELLED|REFUNDED)\b/.exec(
        mail.subject,
      )?.[1];
      return `${orderId} ${status ?? `? (${mail.subject})`}`;
    })
    .sort();
}

let smtp: SmtpSink;
let svc: Service;

beforeAll(async () => {
  smtp = await startSmtp();
  svc = await startService({
    env: {
      ORDERFLOW_SMTP_URL: smtp.url,
      ORDERFLOW_MAIL_FROM: `Shop <${MAIL_FROM}>`,
      ORDERFLOW_DECLINE_LIMIT: '0',
    },
  });
  await svc.putProduct(GIZMO_SKU, GIZMO_PRODUCT);
});

afterAll(async () => {
  await stopAllServices();
  await smtp.close();
});

describe('status emails through SMTP', () => {
  const expected: Expected[] = [];
  const ids = (): string[] => [...new Set(expected.map((e) => e.order.orderId))];
  const expectedTally = (): string[] =>
    expected.map((e) => `${e.order.orderId} ${e.status}`).sort();

  async function place(body: OrderInput): Promise<string> {
    return (await svc.placeAccepted(body)).orderId;
  }

  async function ended(orderId: string, status: OrderStatus): Promise<void> {
    const order = await svc.waitForStatus(orderId, [status]);
    expected.push({ order, status });
  }

  /**
   * The sentinel for "nothing more was sent": one more order, placed after the step under
   * test, whose email is expected (and checked) like the others. The log hands the
   * notifications group its events in append order, so once the sentinel's email is in and
   * the group has caught up (no lag, nothing in flight), every event before it has been
   * handled: whatever email those would send has been sent.
   */
  async function sentinelOrder(): Promise<ReceivedMail> {
    const orderId = await place(orderBody({ sku: GIZMO.sku, qty: 1 }));
    await ended(orderId, 'COMPLETED');
    const mail = await waitFor(() => smtp.messages().find((m) => m.subject.includes(orderId)), {
      timeoutMs: 30_000,
      what: `the email of the sentinel order ${orderId}`,
      describe: () => `${smtp.messages().length} emails there`,
    });
    await svc.waitForConsumerIdle('notifications', 30_000);
    expectEmailAbout(mail, expected[expected.length - 1] as Expected);
    return mail;
  }

  it('sends one email per terminal status, each with the order summary in text and HTML', async () => {
    const twoLines = (overrides: Partial<OrderInput>, qty = [2, 3]): OrderInput => ({
      ...orderBody(),
      items: [
        { sku: 'A123', qty: qty[0] ?? 1 },
        { sku: GIZMO.sku, qty: qty[1] ?? 1 },
      ],
      ...overrides,
    });

    const completed = await place(twoLines({}));
    const noStock = await place({
      ...orderBody(),
      items: [
        { sku: 'A123', qty: 1 },
        { sku: 'B456', qty: 1 },
      ],
    });
    const declined = await place(twoLines({ paymentMethod: DECLINED }, [1, 1]));
    // A charge waiting for 3-D Secure keeps the order RESERVED; the customer cancels it.
    const cancelled = await place(twoLines({ paymentMethod: AUTHENTICATION_REQUIRED }, [1, 4]));
    const refunded = await place(twoLines({}, [3, 2]));

    await ended(completed, 'COMPLETED');
    await ended(noStock, 'FAILED_NO_STOCK');
    await ended(declined, 'PAYMENT_FAILED');
    await svc.waitForStatus(cancelled, ['RESERVED']);
    expect((await svc.cancel(cancelled)).status).toBe(202);
    await ended(cancelled, 'CANCELLED');
    await ended(refunded, 'COMPLETED');
    expect((await svc.cancel(refunded)).status).toBe(202);
    await ended(refunded, 'REFUNDED');

    await smtp.waitFor(expected.length, 30_000);
    await sentinelOrder();
    const mails = smtp.messages();
    expect(tally(mails, ids())).toEqual(expectedTally());
    for (const want of expected) {
      const mail = mails.find(
        (m) =>
          m.subject.includes(want.order.orderId) &&
          new RegExp(`\\b${want.status}\\b`).test(m.subject),
      );
      if (!mail) throw new Error(`no ${want.status} email for ${want.order.orderId}`);
      expectEmailAbout(mail, want);
    }
    // The reason of a failure is told in both parts.
    const failed = mails.find((m) => m.subject.includes(declined));
    if (!failed) throw new Error('no PAYMENT_FAILED email');
    expect(partOf(failed, 'text/plain')).toContain('Your card was declined.');
    expect(htmlText(partOf(failed, 'text/html'))).toContain('Your card was declined.');
  });

  it('a replay of the notifications group sends nothing again', async () => {
    await svc.replay('notifications', 1);
    await sentinelOrder();
    expect(tally(smtp.messages(), ids())).toEqual(expectedTally());
  });

  it('a restart, and a SIGKILL and restart, send nothing again; new orders are still mailed', async () => {
    await svc.restart();
    await sentinelOrder();
    expect(tally(smtp.messages(), ids())).toEqual(expectedTally());

    await svc.kill('SIGKILL');
    await svc.restart();
    // The sentinel is a new order too: mailed, with its summary, and nothing else sent.
    await sentinelOrder();
    expect(tally(smtp.messages(), ids())).toEqual(expectedTally());
  });
});

import type { Money } from '../domain/money.js';
import type { OrderFacts } from '../domain/order.js';
import type { OrderStatus } from '../domain/status.js';
import type { Mail } from '../ports/mailer.js';

const HEADLINES: Partial<Record<OrderStatus, string>> = {
  COMPLETED: 'Your order is confirmed and on its way to the warehouse.',
  FAILED_NO_STOCK: 'We are sorry: part of your order is out of stock. You were not charged.',
  PAYMENT_FAILED: 'Your payment did not go through, so the order was not placed.',
  CANCELLED: 'Your order was cancelled. You were not charged.',
  REFUNDED: 'Your order was cancelled and your payment refunded.',
};

/** Per currency, once: building an Intl formatter costs far more than the email around it. */
const MINOR_DIGITS = new Map<string, number>();

/** Digits after the point of a currency's minor unit: 2 for USD, 0 for JPY, 3 for KWD. */
function minorDigits(currency: string): number {
  let digits = MINOR_DIGITS.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    if (MINOR_DIGITS.size < 1_000) MINOR_DIGITS.set(currency, digits);
  }
  return digits;
}

/** Integer minor units as the customer reads them: `1999 USD` → `19.99 USD`, `500 JPY` → `500 JPY`. */
export function formatMoney({ amount, currency }: Money): string {
  const digits = minorDigits(currency);
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The email for an order that reached a terminal status; its id makes it unique. */
export function statusEmail(order: OrderFacts, status: OrderStatus): Mail {
  const headline = HEADLINES[status] ?? `Your order is now ${status}.`;
  const reason = order.reason !== undefined && status !== 'COMPLETED' ? order.reason : undefined;
  const lines = order.items.map(
    (item) => `${item.qty} × ${item.sku} at ${formatMoney(item.unitPrice)}`,
  );
  const text = [
    headline,
    '',
    `Order: ${order.orderId}`,
    `Status: ${status}`,
    ...(reason ? [`Reason: ${reason}`] : []),
    '',
    ...lines,
    `Total: ${formatMoney(order.total)}`,
  ].join('\n');
  const rows = order.items
    .map(
      (item) =>
        `<tr><td>${escapeHtml(item.sku)}</td><td>${item.qty}</td><td>${formatMoney(item.unitPrice)}</td></tr>`,
    )
    .join('');
  const html = `<!doctype html><html><body>
<p>${escapeHtml(headline)}</p>
<p>Order <strong>${escapeHtml(order.orderId)}</strong> — status <strong>${status}</strong></p>
${reason ? `<p>Reason: ${escapeHtml(reason)}</p>\n` : ''}<table><thead><tr><th>SKU</th><th>Qty</th><th>Unit price</th></tr></thead><tbody>${rows}</tbody></table>
<p>Total: <strong>${formatMoney(order.total)}</strong></p>
</body></html>`;
  return {
    id: `${order.orderId}.${status}`,
    to: order.email,
    subject: `Order ${order.orderId} ${status}`,
    text,
    html,
  };
}

/** Money in integer minor units (cents): never a float, never from the client. */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

export function money(amount: number, currency: string): Money {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new RangeError(`money amount must be a non-negative integer, got ${amount}`);
  }
  return { amount, currency };
}

/** Sum of prices × quantities; all in one currency (a catalog has one per product, an order one in all). */
export function total(lines: readonly { unitPrice: Money; qty: number }[]): Money {
  const first = lines[0];
  if (!first) throw new RangeError('an order has at least one line');
  let amount = 0;
  for (const line of lines) {
    if (line.unitPrice.currency !== first.unitPrice.currency) {
      throw new RangeError('all lines of an order are in one currency');
    }
    amount += line.unitPrice.amount * line.qty;
  }
  return money(amount, first.unitPrice.currency);
}

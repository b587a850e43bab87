/**
 * The same rules as orderflow's simulated provider: Stripe's test payment methods that
 * succeed, succeed; the declining ones and any unknown method are declined.
 */
const SUCCEEDING = new Set([
  'pm_card_visa',
  'pm_card_visa_debit',
  'pm_card_mastercard',
  'pm_card_amex',
  'pm_card_discover',
]);

export type Charge =
  { readonly status: 'succeeded'; readonly ref: string } | { readonly status: 'declined' };

export function charge(orderId: string, paymentMethod: string): Charge {
  return SUCCEEDING.has(paymentMethod)
    ? { status: 'succeeded', ref: `pi_sim_${orderId}` }
    : { status: 'declined' };
}

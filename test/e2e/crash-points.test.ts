/**
 * SIGKILL between two named steps (ORDERFLOW_FAULT_KILL_AT), then a restart on the same
 * data dir: the order must still reach its terminal status, with its stock back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DECLINED, errorCode, orderBody, VISA } from '../helpers/api.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { waitFor } from '../helpers/wait.js';

const AUTHENTICATION_REQUIRED = 'pm_card_authenticationRequired';

afterAll(async () => {
  await stopAllServices();
});

/** Waits for the process to have killed itself at its checkpoint, then starts it again without the fault. */
async function restartAfterCrash(svc: Service): Promise<void> {
  await waitFor(() => (svc.running ? undefined : true), {
    timeoutMs: 15_000,
    what: 'the process to kill itself at its checkpoint',
  });
  await svc.restart({ ORDERFLOW_FAULT_KILL_AT: undefined });
}

describe('a crash between two steps', () => {
  it('between the stock hold and RESERVED, on a 3-D Secure payment: the hold still expires', async () => {
    const svc = await startService({
      env: { ORDERFLOW_RESERVATION_TTL: '3s', ORDERFLOW_FAULT_KILL_AT: 'after-reserve' },
    });
    const before = await svc.product('A123');
    const placed = await svc.placeOrder(orderBody({ paymentMethod: AUTHENTICATION_REQUIRED }));
    expect(placed.status).toBe(202);
    await restartAfterCrash(svc);
    const order = await svc.waitForTerminal(placed.json.orderId, 30_000);
    expect(order.status).toBe('CANCELLED');
    expect((await svc.productWhen('A123', { available: before.available })).available).toBe(
      before.available,
    );
  }, 90_000);

  it('between logging a cancel and marking the order: the COMPLETED order is still refunded', async () => {
    const svc = await startService({ env: { ORDERFLOW_FAULT_KILL_AT: 'cancel-logged' } });
    const before = await svc.product('A123');
    const placed = await svc.placeOrder(orderBody({ paymentMethod: VISA }));
    expect((await svc.waitForTerminal(placed.json.orderId)).status).toBe('COMPLETED');
    await svc.cancel(placed.json.orderId).catch(() => undefined); // the process dies under it
    await restartAfterCrash(svc);
    const order = await svc.waitForStatus(placed.json.orderId, ['REFUNDED'], 30_000);
    expect(order.status).toBe('REFUNDED');
    expect((await svc.productWhen('A123', { available: before.available })).available).toBe(
      before.available,
    );
  }, 90_000);

  it('right after an order shows PAYMENT_FAILED: its decline is already counted', async () => {
    // Killed the moment the order is PAYMENT_FAILED in the store: a decline counted after
    // that (as it once was, on the side) is lost with the process, and the card tester's
    // next order goes through.
    const svc = await startService({
      env: {
        ORDERFLOW_DECLINE_LIMIT: '1',
        ORDERFLOW_RATE_LIMIT: '0',
        ORDERFLOW_FAULT_KILL_AT: 'payment-failed',
      },
    });
    const tester = orderBody({ paymentMethod: DECLINED });
    const placed = await svc.placeOrder(tester);
    expect(placed.status).toBe(202);
    await restartAfterCrash(svc);
    expect((await svc.waitForTerminal(placed.json.orderId)).status).toBe('PAYMENT_FAILED');
    const again = await svc.placeOrder({ ...tester });
    expect(again.status).toBe(429);
    expect(errorCode(again.json)).toBe('too_many_declines');
  }, 90_000);
});

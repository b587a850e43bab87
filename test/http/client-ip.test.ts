/**
 * Whose IP an order records (what the card-testing defence and the IP limits count): the
 * connection's peer, unless ORDERFLOW_TRUSTED_PROXY_HEADER names the header in which the
 * caller in front gives the end user's address.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AS, orderBody, startTestService, type TestService } from './context.js';

const PEER = '10.0.0.2';

describe('the client IP of an order', () => {
  let service: TestService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  async function clientIpOf(
    env: Record<string, string>,
    headers: Record<string, string>,
  ): Promise<string | undefined> {
    service ??= await startTestService({ env });
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      remoteAddress: PEER,
      headers: { ...AS.client, ...headers },
      payload: orderBody(),
    });
    expect(res.statusCode).toBe(202);
    const { orderId } = res.json<{ orderId: string }>();
    return (await service.backends.orders.get(orderId))?.clientIp;
  }

  it('is the peer, whatever X-Forwarded-For says, when no header is trusted', async () => {
    expect(await clientIpOf({}, { 'x-forwarded-for': '203.0.113.7' })).toBe(PEER);
  });

  it('is the last address of X-Forwarded-For when it is trusted (earlier ones can be forged)', async () => {
    const env = { ORDERFLOW_TRUSTED_PROXY_HEADER: 'X-Forwarded-For' };
    expect(await clientIpOf(env, { 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
    expect(await clientIpOf(env, { 'x-forwarded-for': '198.51.100.1, 203.0.113.8' })).toBe(
      '203.0.113.8',
    );
    expect(await clientIpOf(env, { 'x-forwarded-for': '2001:db8::1' })).toBe('2001:db8::1');
    // Not an address, or missing: the peer.
    expect(await clientIpOf(env, { 'x-forwarded-for': 'unknown' })).toBe(PEER);
    expect(await clientIpOf(env, {})).toBe(PEER);
  });

  it('is read from another trusted header, X-Forwarded-For then counting for nothing', async () => {
    const env = { ORDERFLOW_TRUSTED_PROXY_HEADER: 'x-real-ip' };
    expect(
      await clientIpOf(env, { 'x-real-ip': '203.0.113.9', 'x-forwarded-for': '198.51.100.1' }),
    ).toBe('203.0.113.9');
    expect(await clientIpOf(env, { 'x-real-ip': '203.0.113.10:4711' })).toBe('203.0.113.10');
    expect(await clientIpOf(env, { 'x-forwarded-for': '198.51.100.1' })).toBe(PEER);
  });
});

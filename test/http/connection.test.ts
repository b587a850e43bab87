import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUEST_TIMEOUT_MS } from '../../src/http/app.js';
import { AS, orderBody, startTestService, type TestService, match } from './context.js';

/** Writes `data` on a raw socket and collects everything until the server closes it. */
function rawExchange(port: number, data: string): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
  });
}

describe('connections', () => {
  let service: TestService | undefined;
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  const listen = async (svc: TestService): Promise<number> => {
    await svc.app.listen({ host: '127.0.0.1', port: 0 });
    return (svc.app.server.address() as AddressInfo).port;
  };

  it('gives the Node server a 30 s request and headers timeout', async () => {
    service = await startTestService();
    await service.app.ready();
    expect(REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(service.app.server.requestTimeout).toBe(30_000);
    expect(service.app.server.headersTimeout).toBe(30_000);
  });

  it('answers 408 request_timeout to a client whose headers are not complete in time, and closes', async () => {
    service = await startTestService({ app: { requestTimeoutMs: 1_000 } });
    const port = await listen(service);
    const { text, ms } = await rawExchange(
      port,
      'POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('Connection: close');
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'request_timeout', message: match.string() },
    });
    // The timeout plus at most one check interval (1 s).
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_500);
  });

  it('answers a malformed request with 400 validation_error and closes', async () => {
    service = await startTestService();
    const port = await listen(service);
    const { text } = await rawExchange(port, 'NONSENSE\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('"code":"validation_error"');
  });

  it('answers 413 over a socket before the whole body is read', async () => {
    service = await startTestService();
    const port = await listen(service);
    const body = JSON.stringify(orderBody({ customerId: 'x'.repeat(2_000_000) }));
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/orders',
          headers: {
            ...AS.client,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
    expect(status).toBe(413);
  });

  it('ends open event streams when the app closes', async () => {
    service = await startTestService();
    const port = await listen(service);
    const placed = await service.app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: AS.client,
      payload: orderBody(),
    });
    const { orderId } = placed.json<{ orderId: string }>();
    const ended = new Promise<string>((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port,
            path: `/v1/orders/${orderId}/events`,
            headers: AS.client,
            agent: false,
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              text += chunk;
              if (text.includes('PENDING')) void service?.app.close();
            });
            response.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    expect(await ended).toContain('PENDING');
  });
});

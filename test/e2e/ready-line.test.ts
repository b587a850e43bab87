/**
 * The `orderflow ready` line of a real `orderflow start` names the backend of each role: on
 * the embedded default the SQLite files (and the pipeline process's line the same), in
 * scale-out the engines' URLs. Every URL is given with a user and a password, the provider
 * with a key: none of them appears anywhere in what the process prints.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeStripe } from '../helpers/fake-stripe.js';
import { ENGINES, enginesUp } from '../helpers/engines.js';
import { deadPort } from '../helpers/net.js';
import { startService, stopAllServices, type Service } from '../helpers/service.js';
import { logLines } from '../helpers/log-lines.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'Pa55-w0rd-never-logged';
const PAYMENTS_KEY = 'sk_test_ready_line_key';
const WEBHOOK_SECRET = 'whsec_ready_line_secret';

interface ReadyLine {
  readonly msg: string;
  readonly role: string;
  readonly pipeline: string;
  readonly eventLog: string;
  readonly hotStore: string;
  readonly sourceOfTruth: string;
  readonly payments: string;
  readonly mail: string;
}

/** The JSON log line whose message is `msg`, once the process printed it. */
function lineOf(service: Service, msg: string): Promise<ReadyLine> {
  return waitFor(() => logLines<ReadyLine>(service.logs()).find((line) => line.msg === msg), {
    timeoutMs: 30_000,
    what: `the line "${msg}"`,
    describe: () => service.logs(20),
  });
}

/** `url` with a user and a password in it. */
function withCredentials(url: string, user: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = SECRET;
  return parsed.href;
}

/** `url` as the ready line shows it: no user, no password. */
function bare(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.href.replace(/\/$/, '');
}

const fakes: FakeStripe[] = [];
const scaleOutUp = await enginesUp('redis', 'nats', 'postgres');

afterAll(async () => {
  await stopAllServices();
  await Promise.all(fakes.map((fake) => fake.stop()));
});

describe('the ready line', () => {
  it('names the SQLite files on the embedded default, in both processes', async () => {
    const service = await startService();
    const ready = await lineOf(service, 'orderflow ready');
    const dataDir = path.resolve(service.dataDir);
    const files = {
      eventLog: path.join(dataDir, 'orderflow.db'),
      hotStore: path.join(dataDir, 'orderflow.db'),
      sourceOfTruth: path.join(dataDir, 'sot.db'),
      payments: 'simulated',
      mail: `outbox ${path.join(dataDir, 'outbox')}`,
    };
    expect(ready).toMatchObject({ role: 'all', pipeline: 'process', ...files });
    expect(await lineOf(service, 'orderflow pipeline ready')).toMatchObject(files);
  });

  it.runIf(scaleOutUp)(
    'names the engines in scale-out, without a credential anywhere in the output',
    async () => {
      const fake = new FakeStripe({ apiKey: PAYMENTS_KEY });
      await fake.start();
      fakes.push(fake);
      const smtp = `smtp://127.0.0.1:${await deadPort()}`;
      const redis = new URL(ENGINES.redis);
      redis.pathname = '/0';
      const service = await startService({
        env: {
          ORDERFLOW_REDIS_URL: withCredentials(redis.href, ''),
          ORDERFLOW_NATS_URL: withCredentials(ENGINES.nats, 'orderflow'),
          ORDERFLOW_DATABASE_URL: withCredentials(ENGINES.postgres, 'postgres'),
          ORDERFLOW_PAYMENTS_URL: fake.url,
          ORDERFLOW_PAYMENTS_KEY: PAYMENTS_KEY,
          ORDERFLOW_PAYMENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
          ORDERFLOW_SMTP_URL: withCredentials(smtp, 'mailer'),
          ORDERFLOW_MAIL_FROM: 'shop <shop@example.com>',
        },
      });
      const ready = await lineOf(service, 'orderflow ready');
      expect(ready).toMatchObject({
        role: 'all',
        pipeline: 'inline',
        eventLog: bare(ENGINES.nats),
        hotStore: bare(redis.href),
        sourceOfTruth: bare(ENGINES.postgres),
        payments: bare(fake.url),
        mail: smtp,
      });
      const output = service.logs();
      for (const secret of [SECRET, encodeURIComponent(SECRET), PAYMENTS_KEY, WEBHOOK_SECRET]) {
        expect(output).not.toContain(secret);
      }
    },
  );
});

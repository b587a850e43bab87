import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * The real engines the distributed suites run against. URLs come from the environment
 * (`ORDERFLOW_TEST_REDIS_URL`, `ORDERFLOW_TEST_NATS_URL`, `ORDERFLOW_TEST_DATABASE_URL`),
 * defaulting to the standard local ports. A suite whose engine does not answer is skipped
 * on a developer's machine and fails under CI (CI=true), where every engine must be up.
 */
export const ENGINES = {
  redis: process.env['ORDERFLOW_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  nats: process.env['ORDERFLOW_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222',
  postgres: process.env['ORDERFLOW_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
} as const;

export type Engine = keyof typeof ENGINES;

function answers(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) || defaultPort });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const DEFAULT_PORTS: Record<Engine, number> = { redis: 6379, nats: 4222, postgres: 5432 };

/** Whether the engines answer; under CI an engine that does not is an error, not a skip. */
export async function enginesUp(...engines: Engine[]): Promise<boolean> {
  const up = await Promise.all(
    engines.map((engine) => answers(ENGINES[engine], DEFAULT_PORTS[engine])),
  );
  const down = engines.filter((_, index) => !up[index]);
  if (down.length > 0 && process.env['CI'] === 'true') {
    throw new Error(
      `CI needs ${down.join(', ')} up (${down.map((engine) => ENGINES[engine]).join(', ')})`,
    );
  }
  return down.length === 0;
}

/** A namespace no other test run uses: tests isolate themselves by it. */
export function randomNamespace(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

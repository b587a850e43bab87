import { displayUrl } from '../../adapters/shared/display-url.js';
import { type Check, engineCheck, loadDriver, messageOf, networkWords } from './check.js';

function natsWords(error: unknown, where: string): string {
  const network = networkWords(error) ?? networkWords((error as { cause?: unknown }).cause);
  if (network !== undefined) return `${where}: ${network}: is nats-server running there?`;
  const message = messageOf(error);
  if (/refused|ECONNREFUSED/i.test(message))
    return `${where}: nothing answers there (connection refused): is nats-server running there?`;
  if (/authorization|authentication/i.test(message))
    return `${where} refused the credentials in ORDERFLOW_NATS_URL`;
  if (/jetstream (is )?not enabled/i.test(message))
    return `${where} answers but JetStream is not enabled: start nats-server with -js`;
  return `${where}: ${message}`;
}

/** NATS (the event log in the scale-out set) accepts a connection and JetStream answers for the account. */
export function natsCheck(url: string): Check {
  return engineCheck('nats', url, 4222, natsWords, async (timeoutMs) => {
    const [{ connect }, { jetstreamManager }, { natsServerOptions }] = await loadDriver(
      '@nats-io',
      () =>
        Promise.all([
          import('@nats-io/transport-node'),
          import('@nats-io/jetstream'),
          // The credentials in the URL, as the event log passes them (the client reads none).
          import('../../adapters/nats/nats-connection.js'),
        ]),
    );
    const nc = await connect({
      ...natsServerOptions(url),
      name: 'orderflow-doctor',
      timeout: timeoutMs,
      reconnect: false,
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
      const account = await jsm.getAccountInfo();
      return `${displayUrl(url)} answers, JetStream on (${account.streams} streams, ${account.consumers} consumers)`;
    } finally {
      await nc.close().catch(() => undefined);
    }
  });
}

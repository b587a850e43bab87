import net from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { openNatsEventLog } from '../../src/adapters/nats/nats-event-log.js';
import { NatsNames } from '../../src/adapters/nats/nats-subjects.js';
import type { EventLog } from '../../src/ports/event-log.js';
import type { RetentionPolicy } from '../../src/ports/retention.js';
import { systemClock, type Fixture, type FixtureFactory } from '../contract/fixture.js';
import type { RetentionLogFactory } from '../contract/log-retention.contract.js';
import { ENGINES, randomNamespace } from './engines.js';

export { deadPort } from './net.js';

/**
 * An EventLog usable at once whose connection is still being made: the fixtures' `open`
 * is synchronous, `openNatsEventLog` is not. Every call waits for the open first.
 */
export function deferredEventLog(opening: Promise<EventLog>): EventLog {
  opening.catch(() => undefined);
  return {
    append: async (events) => (await opening).append(events),
    consume: (spec, deliver) => {
      const subscription = opening.then((log) => log.consume(spec, deliver));
      subscription.catch(() => undefined);
      return { stop: async () => (await subscription).stop() };
    },
    deadLetters: async (query) => (await opening).deadLetters(query),
    redrive: async (id) => (await opening).redrive(id),
    discard: async (id) => (await opening).discard(id),
    replay: async (group, from) => (await opening).replay(group, from),
    finishedThrough: async (group) => (await opening).finishedThrough(group),
    stats: async () => (await opening).stats(),
    trace: async (key) => (await opening).trace(key),
    applyRetention: async () => (await opening).applyRetention(),
    ping: async () => (await opening).ping(),
    close: async () => (await opening).close(),
  };
}

/**
 * Event logs on one namespace, each `open` a new connection to the same streams; `dispose`
 * closes them and deletes the namespace's streams. Shared by the event log's fixture and the
 * Redis order store's, which emits on the NATS log as production wires it.
 */
export function natsLogsIn(namespace: string): Fixture<EventLog> {
  const opened: Promise<EventLog>[] = [];
  return {
    open(clock) {
      const opening = openNatsEventLog({ url: ENGINES.nats, namespace, clock });
      opened.push(opening);
      return deferredEventLog(opening);
    },
    async dispose() {
      if (opened.length === 0) return;
      await Promise.all(
        opened.map((opening) => opening.then((log) => log.close()).catch(() => undefined)),
      );
      await deleteNatsNamespace(ENGINES.nats, namespace);
    },
  };
}

/**
 * A NATS log opened with a retention policy: the server ages events in real time, so time
 * passes by waiting, and `applyRetention` counts nothing (the server removes).
 */
export const natsRetentionLog: RetentionLogFactory = (policy: RetentionPolicy) => {
  const namespace = randomNamespace();
  const opened: Promise<EventLog>[] = [];
  // The retention pass as a deployment runs it (the schedules' process): four times per
  // retention, all along, on the log opened last.
  const schedule = setInterval(
    () => {
      void opened
        .at(-1)
        ?.then((log) => log.applyRetention())
        .catch(() => undefined);
    },
    Math.max(50, policy.logMs / 4),
  );
  return Promise.resolve({
    open() {
      const opening = openNatsEventLog({
        url: ENGINES.nats,
        namespace,
        clock: systemClock,
        retention: policy,
      });
      opened.push(opening);
      return deferredEventLog(opening);
    },
    pass: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    countsRemoved: false,
    async dispose() {
      clearInterval(schedule);
      await Promise.all(
        opened.map((opening) => opening.then((log) => log.close()).catch(() => undefined)),
      );
      await deleteNatsNamespace(ENGINES.nats, namespace);
    },
  });
};

/** A random namespace per fixture. */
export const natsEventLogFixture: FixtureFactory<EventLog> = () =>
  Promise.resolve(natsLogsIn(randomNamespace()));

/** Removes a namespace's streams (and with them its consumers). */
export async function deleteNatsNamespace(url: string, namespace: string): Promise<void> {
  const names = new NatsNames(namespace);
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of names.streams) {
      await jsm.streams.delete(stream).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

/** A TCP relay to a server that a test can cut and restore, to play an outage. */
export class TcpRelay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const { hostname, port } = new URL(this.target);
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: hostname, port: Number(port) || 4222 });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
  }

  /** Stops listening and cuts every open connection. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

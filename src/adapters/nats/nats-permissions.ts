import {
  assertGrantNamespace,
  GRANT_ROLES,
  grantUser,
  type GrantPasswords,
  type GrantRole,
} from '../shared/grant-roles.js';
import { NatsNames } from './nats-subjects.js';

/** What a user may publish (requests to the JetStream API are publishes) and subscribe to. */
export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * The JetStream API subjects each role uses on the namespace's streams (names exact: a
 * subject wildcard cannot match a prefix of a token such as `<NS>_*`). Nobody may create,
 * delete or purge a stream; `orderflow migrate` creates them as an administrator. Only the
 * roles that run the schedules may update one stream, the events stream: the retention
 * pass raises its `max_age` over a lagging group (see `guardEventsStream`).
 *
 * - every role: append events (`<ns>.ev.>`), read the streams (info, direct and message
 *   gets), look at the group consumers (the admin's stats and timelines, readiness);
 * - api: also the operator's work on dead letters (redrive appends, discard deletes the
 *   DLQ message) and replays (which create a group's consumer again from a sequence);
 * - worker: its groups' consumers (create or update, pull, ack), dead letters and outcome
 *   records, and the consumer of the server's dropped-delivery advisories;
 * - scheduler: appends (expired holds) and the events stream's update (the retention guard).
 */
export function natsPermissions(namespace: string, role: GrantRole): NatsPermissions {
  const names = new NatsNames(namespace);
  const read = [
    '$JS.API.INFO',
    ...names.streams.flatMap((stream) => [
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.*`,
      `$JS.API.CONSUMER.LIST.${stream}`,
      `$JS.API.CONSUMER.NAMES.${stream}`,
    ]),
  ];
  const append = [names.events];
  const deadLetters = [
    names.deadLetters,
    names.outcomes,
    `$JS.API.STREAM.MSG.DELETE.${names.deadLetterStream}`,
  ];
  const groups = [names.eventsStream, names.droppedStream].flatMap((stream) => [
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
  ]);
  const consume = [names.eventsStream, names.droppedStream].flatMap((stream) => [
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
  ]);
  const guard = [`$JS.API.STREAM.UPDATE.${names.eventsStream}`];
  const publish: Record<GrantRole, string[]> = {
    api: [...read, ...append, ...deadLetters, ...groups],
    worker: [...read, ...append, ...deadLetters, ...groups, ...consume],
    scheduler: [...read, ...append, ...guard],
    admin: [...read, ...append, ...deadLetters, ...groups, ...consume, ...guard],
  };
  // Replies (JetStream API answers, publish acks, pulled messages) come to the inbox.
  return { publish: publish[role], subscribe: ['_INBOX.>'] };
}

export interface NatsAuthorizationOptions {
  readonly namespace: string;
  readonly passwords: GrantPasswords;
  /**
   * The administrator that runs `orderflow migrate` (creates and updates the streams) and
   * may do anything; omit it where the server config names one already.
   */
  readonly admin?: { readonly user: string; readonly password: string };
}

/**
 * An `authorization { users = [...] }` block for nats-server's configuration file, with one
 * user per process role (and the administrator). JSON strings are valid in that format.
 */
export function natsAuthorization(options: NatsAuthorizationOptions): string {
  const { namespace, passwords, admin } = options;
  assertGrantNamespace(namespace);
  const users = GRANT_ROLES.map((role) => {
    const { publish, subscribe } = natsPermissions(namespace, role);
    return [
      `    {`,
      `      user: ${JSON.stringify(grantUser(namespace, role))}`,
      `      password: ${JSON.stringify(passwords[role])}`,
      `      permissions: {`,
      `        publish: { allow: ${JSON.stringify(publish)} }`,
      `        subscribe: { allow: ${JSON.stringify(subscribe)} }`,
      `      }`,
      `    }`,
    ].join('\n');
  });
  if (admin) {
    users.unshift(
      `    { user: ${JSON.stringify(admin.user)}, password: ${JSON.stringify(admin.password)} }`,
    );
  }
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`;
}

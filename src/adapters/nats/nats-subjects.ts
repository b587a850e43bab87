/**
 * Names of everything the NATS event log keeps in JetStream, all derived from the
 * namespace so that deployments and test runs sharing one server never see each other.
 *
 * Events are filed key first, `<ns>.ev.<key>.<type tokens>` (`OrderStatusChanged.COMPLETED`
 * is two tokens). Key first because 2.9 consumers and direct gets take ONE subject filter,
 * and a filter may only end in a wildcard: `<ns>.ev.<key>.>` finds every event of a key in
 * one read whatever the depth of its type, while a type filter stays as narrow with a
 * leading wildcard (`<ns>.ev.*.OrderPlaced`).
 */
export class NatsNames {
  readonly ns: string;
  readonly eventsStream: string;
  readonly deadLetterStream: string;
  readonly outcomeStream: string;
  /** The server's MAX_DELIVERIES advisories about the groups' consumers, captured. */
  readonly droppedStream: string;
  readonly events: string;
  readonly deadLetters: string;
  readonly outcomes: string;
  readonly dropped: string;
  /** The one durable consumer of `droppedStream`, shared by every process. */
  readonly droppedConsumer = 'dead-letterer';

  constructor(namespace: string) {
    this.ns = token(namespace);
    const upper = this.ns.toUpperCase();
    this.eventsStream = `${upper}_EVENTS`;
    this.deadLetterStream = `${upper}_DLQ`;
    this.outcomeStream = `${upper}_OUTCOMES`;
    this.droppedStream = `${upper}_DROPPED`;
    this.events = `${this.ns}.ev.>`;
    this.deadLetters = `${this.ns}.dlq.>`;
    this.outcomes = `${this.ns}.outcome.>`;
    this.dropped = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${this.eventsStream}.*`;
  }

  /** Every stream of the namespace: what provisioning creates and a clean-up deletes. */
  get streams(): readonly string[] {
    return [this.eventsStream, this.deadLetterStream, this.outcomeStream, this.droppedStream];
  }

  eventSubject(key: string, type: string): string {
    return `${this.ns}.ev.${token(key)}.${typeTokens(type).join('.')}`;
  }

  /** Every event of `key` (and, rarely, of keys that sanitize alike: compare the header). */
  keySubjects(key: string): string {
    return `${this.ns}.ev.${token(key)}.>`;
  }

  /**
   * The narrowest single filter covering `types` (2.9 has no multi-filter consumers): one
   * type exactly, else the longest common token prefix + `.>`, else every event. The
   * consumer drops the other types it is handed.
   */
  filterSubject(types: readonly string[]): string {
    const distinct = [...new Map(types.map((type) => [typeTokens(type).join('.'), type]))];
    const [only] = distinct;
    if (!only) return this.events;
    if (distinct.length === 1) return `${this.ns}.ev.*.${only[0]}`;
    const tokenLists = distinct.map(([joined]) => joined.split('.'));
    let prefix = commonPrefix(tokenLists);
    // `A.>` does not match `A` itself: a type equal to the prefix needs a shorter one.
    if (tokenLists.some((list) => list.length === prefix.length)) prefix = prefix.slice(0, -1);
    return prefix.length === 0 ? this.events : `${this.ns}.ev.*.${prefix.join('.')}.>`;
  }

  /** Durable consumer of a group; `group` must already be a plain token (see `assertGroupName`). */
  consumerName(group: string): string {
    return `${this.ns}_${group}`;
  }

  /** The group whose durable consumer this is; undefined for another's. */
  groupOfConsumer(consumer: string): string | undefined {
    const prefix = `${this.ns}_`;
    return consumer.startsWith(prefix) && consumer.length > prefix.length
      ? consumer.slice(prefix.length)
      : undefined;
  }

  deadLetterSubject(group: string): string {
    return `${this.ns}.dlq.${group}`;
  }

  outcomeSubject(group: string, seq: number): string {
    return `${this.ns}.outcome.${group}.${seq}`;
  }
}

/** A string as one subject token / name part: anything outside `[A-Za-z0-9_-]` becomes `_`. */
export function token(value: string): string {
  return value.length === 0 ? '_' : value.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * Group names become consumer names and subject tokens, where a sanitized collision
 * (`a.b` and `a_b`) would make two groups share one consumer and lose events. So they must
 * be plain tokens already; orderflow's groups (`workflow`, `sync-out`, ...) are.
 */
export function assertGroupName(group: string): void {
  if (group.length === 0 || token(group) !== group) {
    throw new Error(`consumer group "${group}": NATS group names must match [A-Za-z0-9_-]+`);
  }
}

function typeTokens(type: string): string[] {
  return type.split('.').map(token);
}

function commonPrefix(lists: readonly string[][]): string[] {
  const [first = [], ...rest] = lists;
  let length = first.length;
  for (const list of rest) {
    let same = 0;
    while (same < Math.min(length, list.length) && list[same] === first[same]) same += 1;
    length = same;
  }
  return first.slice(0, length);
}

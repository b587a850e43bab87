import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { StreamConfig, StreamUpdateConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { RetentionPolicy as Retention } from '../../ports/retention.js';
import { isPermissionViolation, sleep, type NatsContext } from './nats-connection.js';
import { guardedMaxAgeMs, maxAgeMs, maxAgeNanos, oldestUnsettledAgeMs } from './nats-retention.js';
import type { NatsNames } from './nats-subjects.js';

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const OUTCOME_MAX_AGE_MS = 14 * 24 * 60 * 60_000;

/**
 * The namespace's streams, file-backed with limits retention: events, dead letters,
 * outcome records (the last one per subject), and the server's advisories of events it
 * stopped delivering to a group (see nats-delivery-limit.ts). All dedupe by `Nats-Msg-Id`
 * (over two minutes, or the log retention if shorter) and allow direct gets.
 *
 * The events stream takes the log retention: `max_age` (never below what a lagging group
 * needs, see `guardedMaxAgeMs`), `max_bytes` with `discard: new` (a full log refuses events
 * rather than drop ones a group still needs), and the configured retention in its
 * `description`, which is how a start tells a changed configuration from a `max_age` the
 * guard raised. The DLQ keeps at most `deadLettersPerGroup` letters per group's subject and
 * refuses more (`discard_new_per_subject`): a letter is never pushed out by a newer one.
 */
export async function ensureStreams(context: NatsContext, retention: Retention): Promise<void> {
  const guarded = await guardedAtStart(context, retention.logMs);
  for (const spec of streamSpecs(context.names, retention, guarded)) {
    await ensureStream(context, spec);
  }
}

/**
 * Keeps the events stream's `max_age` over what the groups have not settled yet (the
 * retention pass, in one process at a time): raised while a group lags, back to the
 * configured retention once every group has caught up. Resolves to the `max_age` it left.
 */
export async function guardEventsStream(context: NatsContext, logMs: number): Promise<number> {
  const { jsm, names } = context;
  const stream = await jsm.streams.info(names.eventsStream);
  const { config } = stream;
  const current = maxAgeMs(config.max_age);
  const wanted = guardedMaxAgeMs(logMs, current, await oldestUnsettledAgeMs(context, stream));
  if (wanted !== current) {
    await jsm.streams.update(names.eventsStream, {
      subjects: config.subjects,
      max_age: maxAgeNanos(wanted),
    });
  }
  return wanted;
}

/** A stream: its name, the settings a create sets and an update may change, what it accepts. */
interface StreamSpec {
  readonly name: string;
  readonly settings: Partial<StreamUpdateConfig> & { subjects: string[] };
  /**
   * Settings an existing stream may differ in and still be as wanted, each with its test
   * (the events stream's `max_age`, which the guard may have raised).
   */
  readonly tolerated?: Readonly<Record<string, (current: unknown) => boolean>>;
}

/** The events stream's description: the retention a start compares with its own. */
function eventsDescription(retention: Retention): string {
  return `orderflow events; log retention ${retention.logMs} ms, max bytes ${retention.logMaxBytes}`;
}

/** A running stream's `max_age` the guard raised (the stream exists, its description current). */
async function guardedAtStart(context: NatsContext, logMs: number): Promise<number> {
  if (logMs <= 0) return 0;
  const existing = await context.jsm.streams
    .info(context.names.eventsStream)
    .catch(() => undefined);
  if (!existing) return logMs;
  const current = maxAgeMs(existing.config.max_age);
  return guardedMaxAgeMs(logMs, current, await oldestUnsettledAgeMs(context, existing));
}

function streamSpecs(names: NatsNames, retention: Retention, eventsMaxAgeMs: number): StreamSpec[] {
  const dedupeMs =
    retention.logMs > 0 ? Math.min(DUPLICATE_WINDOW_MS, retention.logMs) : DUPLICATE_WINDOW_MS;
  const common = { duplicate_window: nanos(DUPLICATE_WINDOW_MS), allow_direct: true };
  const bounded = retention.logMaxBytes > 0;
  const perGroup = retention.deadLettersPerGroup > 0;
  return [
    {
      name: names.eventsStream,
      settings: {
        ...common,
        duplicate_window: nanos(dedupeMs),
        subjects: [names.events],
        description: eventsDescription(retention),
        max_age: maxAgeNanos(eventsMaxAgeMs),
        max_bytes: bounded ? retention.logMaxBytes : -1,
        discard: bounded ? DiscardPolicy.New : DiscardPolicy.Old,
      },
      tolerated: {
        // The guard's raise over a lagging group; none configured stays none.
        max_age: (current) =>
          retention.logMs > 0
            ? typeof current === 'number' && maxAgeMs(current) >= retention.logMs
            : current === 0,
      },
    },
    {
      name: names.deadLetterStream,
      settings: {
        ...common,
        subjects: [names.deadLetters],
        max_msgs_per_subject: perGroup ? retention.deadLettersPerGroup : -1,
        discard: perGroup ? DiscardPolicy.New : DiscardPolicy.Old,
        discard_new_per_subject: perGroup,
      },
    },
    {
      name: names.outcomeStream,
      settings: {
        ...common,
        subjects: [names.outcomes],
        max_msgs_per_subject: 1,
        max_age: nanos(OUTCOME_MAX_AGE_MS),
      },
    },
    {
      name: names.droppedStream,
      settings: { ...common, subjects: [names.dropped], max_age: nanos(OUTCOME_MAX_AGE_MS) },
    },
  ];
}

/**
 * Create, or update when it exists with another config (an older version's). Processes
 * creating the same stream at once may be refused by a 2.9 server ("subjects overlap",
 * "error creating store") while the winner's stream is not visible yet: such refusals are
 * retried. A stream of the same name on other subjects belongs to another namespace
 * (names are upper-cased): refuse rather than take its subjects away.
 */
async function ensureStream(context: NatsContext, spec: StreamSpec): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await createOrUpdateStream(context, spec);
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || attempt >= 5) throw error;
      await sleep(50 * attempt);
    }
  }
}

/**
 * A stream that is already as wanted is only bound to: a least-privilege user (see
 * nats-permissions.ts) may read a stream's info but not create or update it, which
 * `orderflow migrate` does as an administrator.
 */
async function createOrUpdateStream(
  { jsm }: NatsContext,
  { name, settings, tolerated = {} }: StreamSpec,
): Promise<void> {
  const existing = await jsm.streams.info(name).catch((error: unknown) => {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return undefined;
    }
    throw error;
  });
  if (existing && isAsWanted(existing.config, settings, tolerated)) return;
  try {
    await addOrUpdate(jsm, name, settings, existing !== undefined);
  } catch (error) {
    if (!isPermissionViolation(error)) throw error;
    throw new Error(
      `NATS stream ${name} is ${existing ? 'not as this version wants it' : 'missing'} and this ` +
        "NATS user may not change it: run `orderflow migrate` with an administrator's ORDERFLOW_NATS_URL",
      { cause: error },
    );
  }
}

/** Updates it where it exists; else creates it (or updates it, when a concurrent creation won). */
async function addOrUpdate(
  jsm: NatsContext['jsm'],
  name: string,
  settings: StreamSpec['settings'],
  exists: boolean,
): Promise<void> {
  if (exists) {
    await updateSameSubjects(jsm, name, settings);
    return;
  }
  try {
    await jsm.streams.add({
      name,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      ...settings,
    });
    return;
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
  }
  await updateSameSubjects(jsm, name, settings);
}

async function updateSameSubjects(
  jsm: NatsContext['jsm'],
  name: string,
  settings: StreamSpec['settings'],
): Promise<void> {
  const { subjects } = (await jsm.streams.info(name)).config;
  if (JSON.stringify(subjects) !== JSON.stringify(settings.subjects)) {
    throw new Error(
      `stream ${name} exists with subjects ${subjects.join(', ')}: is it another namespace's?`,
    );
  }
  await jsm.streams.update(name, settings);
}

/**
 * Every setting the spec names has the wanted value already (the server fills in the rest),
 * or one its `tolerated` test accepts.
 */
function isAsWanted(
  config: StreamConfig,
  settings: StreamSpec['settings'],
  tolerated: NonNullable<StreamSpec['tolerated']>,
): boolean {
  const current = config as unknown as Record<string, unknown>;
  return Object.entries(settings).every(([key, value]) => {
    const accepts = tolerated[key];
    if (accepts) return accepts(current[key]);
    return JSON.stringify(current[key]) === JSON.stringify(value);
  });
}

import {
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { StreamConfig, StreamUpdateConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { isPermissionViolation, sleep, type NatsContext } from './nats-connection.js';
import type { NatsNames } from './nats-subjects.js';

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const OUTCOME_MAX_AGE_MS = 14 * 24 * 60 * 60_000;

/**
 * The namespace's streams, file-backed with limits retention: events, dead letters,
 * outcome records (the last one per subject), and the server's advisories of events it
 * stopped delivering to a group (see nats-delivery-limit.ts). All dedupe by `Nats-Msg-Id`
 * over two minutes and allow direct gets (reads without a consumer).
 */
export async function ensureStreams(context: NatsContext): Promise<void> {
  for (const spec of streamSpecs(context.names)) await ensureStream(context, spec);
}

/** A stream: its name, and the settings a create sets and an update may change. */
interface StreamSpec {
  readonly name: string;
  readonly settings: Partial<StreamUpdateConfig> & { subjects: string[] };
}

function streamSpecs(names: NatsNames): StreamSpec[] {
  const common = { duplicate_window: nanos(DUPLICATE_WINDOW_MS), allow_direct: true };
  return [
    { name: names.eventsStream, settings: { ...common, subjects: [names.events] } },
    { name: names.deadLetterStream, settings: { ...common, subjects: [names.deadLetters] } },
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
  { name, settings }: StreamSpec,
): Promise<void> {
  const existing = await jsm.streams.info(name).catch((error: unknown) => {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return undefined;
    }
    throw error;
  });
  if (existing && isAsWanted(existing.config, settings)) return;
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

/** Every setting the spec names has the wanted value already (the server fills in the rest). */
function isAsWanted(config: StreamConfig, settings: StreamSpec['settings']): boolean {
  const current = config as unknown as Record<string, unknown>;
  return Object.entries(settings).every(
    ([key, value]) => JSON.stringify(current[key]) === JSON.stringify(value),
  );
}

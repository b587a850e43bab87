import { JetStreamApiError, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { StreamUpdateConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { sleep, type NatsContext } from './nats-connection.js';
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

async function createOrUpdateStream(
  { jsm }: NatsContext,
  { name, settings }: StreamSpec,
): Promise<void> {
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
  const { subjects } = (await jsm.streams.info(name)).config;
  if (JSON.stringify(subjects) !== JSON.stringify(settings.subjects)) {
    throw new Error(
      `stream ${name} exists with subjects ${subjects.join(', ')}: is it another namespace's?`,
    );
  }
  await jsm.streams.update(name, settings);
}

import type { ReplayRange } from '../ports/event-log.js';
import { decodeToken, encodeToken } from './admin-tokens.js';

/**
 * A replay as an operator follows it: which group, which range of the log. The job is not
 * stored anywhere: its id is the definition itself (base64url JSON), so that any process
 * (an `api` asked, a `worker` runs the group) can answer its progress from the log alone,
 * and nothing needs cleaning up. The id is no secret and no capability: a made-up one only
 * asks how far a group has got through a range.
 */
export interface ReplayJob extends ReplayRange {
  readonly jobId: string;
  readonly consumer: string;
  /** When the replay was asked, ms since the epoch: two replays of one range are two jobs. */
  readonly at: number;
}

/**
 * How far the group has got through the job's range, from its position in the log. Counted
 * in log positions: events of other types, which the group passes without handling, count
 * as done too. A later replay of the same group moves it back, and this job's progress
 * with it.
 */
export interface ReplayProgress extends ReplayJob {
  /** Positions of the range the group has finished. */
  readonly delivered: number;
  /** Positions in the range: `through - from + 1`, 0 when the log had nothing from `from` on. */
  readonly total: number;
  readonly done: boolean;
}

/** The id's tag: a new layout gets a new one, and old ids still read. */
const TAG = 'replay1';

export function replayJob(consumer: string, range: ReplayRange, at: number): ReplayJob {
  const jobId = encodeToken(TAG, consumer, range.from, range.through, at);
  return { jobId, consumer, from: range.from, through: range.through, at };
}

/** The job an id stands for; undefined for an id this service did not hand out. */
export function parseReplayJob(jobId: string): ReplayJob | undefined {
  const parts = decodeToken(TAG, jobId);
  if (parts?.length !== 4) return undefined;
  const [consumer, from, through, at] = parts;
  if (typeof consumer !== 'string' || consumer === '') return undefined;
  if (![from, through, at].every((n) => typeof n === 'number' && Number.isSafeInteger(n)))
    return undefined;
  const job = replayJob(
    consumer,
    { from: from as number, through: through as number },
    at as number,
  );
  // Canonical ids only: one job, one id.
  return job.jobId === jobId ? job : undefined;
}

/** The job's progress once the group has finished every position up to `finishedThrough`. */
export function progressOf(job: ReplayJob, finishedThrough: number): ReplayProgress {
  const total = Math.max(0, job.through - job.from + 1);
  const delivered = Math.min(total, Math.max(0, finishedThrough - job.from + 1));
  return { ...job, delivered, total, done: delivered >= total };
}

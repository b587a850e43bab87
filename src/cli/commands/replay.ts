import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminClient } from '../admin-client.js';
import type { ReplayAccepted, ReplayJob } from '../api-types.js';
import { CliError, EXIT, usageError } from '../cli-error.js';
import {
  addClientOptions,
  durationOption,
  withClient,
  type ClientOptions,
} from '../client-command.js';
import { print } from '../output.js';
import { ProgressBar } from '../progress.js';

interface ReplayOptions extends ClientOptions {
  readonly group: string;
  readonly from: string;
  readonly wait: boolean;
  readonly waitFor: string;
  readonly progress?: boolean;
}

const POLL_MS = 200;

/** `--from`: a sequence number, an ISO 8601 time, or a duration ago (`15m`: fifteen minutes ago). */
export function replayStart(
  text: string,
  now = Date.now(),
): { fromSeq: number } | { fromTime: string } {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { fromSeq: Number(trimmed) };
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(trimmed))
    return { fromTime: new Date(now - durationOption('--from', trimmed)).toISOString() };
  const time = Date.parse(trimmed);
  if (Number.isNaN(time))
    throw usageError(
      `--from ${text}: give a sequence number (42), an ISO time (2026-01-31T12:00:00Z) or a duration ago (15m)`,
    );
  return { fromTime: new Date(time).toISOString() };
}

export function registerReplay(program: Command): void {
  addClientOptions(
    program
      .command('replay')
      .description(
        'deliver again to one consumer group every event from a sequence number or a time, ' +
          'then follow the replay job until the group is through the range (a progress bar ' +
          'on a terminal)',
      )
      .requiredOption('--group <name>', 'the consumer group (see `orderflow stats`)')
      .requiredOption(
        '--from <seq|time>',
        'a sequence number, an ISO 8601 time, or a duration ago (15m)',
      )
      .option('--no-wait', 'print the job id once the service has accepted the replay')
      .option(
        '--wait-for <duration>',
        'give up waiting after this long (the replay goes on)',
        '10m',
      )
      .option('--progress', 'show the progress bar on stderr even when it is not a terminal')
      .option('--no-progress', 'never show the progress bar'),
  ).action((options: ReplayOptions) =>
    withClient(options, async ({ client, output }) => {
      const start = replayStart(options.from);
      const waitMs = durationOption('--wait-for', options.waitFor);
      const accepted = await client.post<ReplayAccepted>('/v1/admin/replay', {
        consumer: options.group,
        ...start,
      });
      const from = accepted.fromSeq !== undefined ? `seq ${accepted.fromSeq}` : accepted.fromTime;
      const range = `seq ${accepted.from}–${accepted.through}`;
      if (!options.wait) {
        print(
          output,
          { ...accepted, caughtUp: false },
          () =>
            `replay of ${options.group} from ${from} accepted: job ${accepted.jobId} (${range})\n` +
            `progress: GET /v1/admin/replay/${accepted.jobId}`,
        );
        return;
      }
      if (!output.json) output.err(`replay job ${accepted.jobId} (${range})`);
      const job = await follow(client, accepted, waitMs, options.progress);
      print(
        output,
        { ...accepted, caughtUp: true, delivered: job.delivered, total: job.total },
        () => `replayed ${options.group} from ${from}: through ${range} (job ${accepted.jobId})`,
      );
    }),
  );
}

/**
 * Polls the replay job until the group is through its range: the service answers from the
 * group's position in the log, whichever process runs the group. Answers the last progress.
 */
async function follow(
  client: AdminClient,
  accepted: ReplayAccepted,
  waitMs: number,
  progress: boolean | undefined,
): Promise<ReplayJob> {
  const { jobId, consumer } = accepted;
  const bar = ProgressBar.start(`replaying ${consumer}`, 0, { enabled: progress });
  const deadline = Date.now() + waitMs;
  try {
    for (;;) {
      const job = await client.get<ReplayJob>(`/v1/admin/replay/${encodeURIComponent(jobId)}`);
      bar.update(job.delivered, job.total);
      if (job.done) return job;
      if (Date.now() >= deadline) {
        const message = `${consumer} is at ${job.delivered}/${job.total} after ${waitMs / 1000} s; the replay goes on in the service (job ${jobId})`;
        throw new CliError(message, EXIT.unavailable, { code: 'timeout', message });
      }
      await sleep(POLL_MS);
    }
  } finally {
    bar.finish();
  }
}

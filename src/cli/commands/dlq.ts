import type { Command } from 'commander';
import type { AdminClient } from '../admin-client.js';
import { DLQ_PAGE_MAX, type DeadLetter, type DeadLetters } from '../api-types.js';
import { CliError, EXIT, usageError, type ExitCode } from '../cli-error.js';
import {
  addClientOptions,
  integerAtLeast,
  withClient,
  type ClientOptions,
} from '../client-command.js';
import { clip, fields, print, table, type Output } from '../output.js';
import { ProgressBar } from '../progress.js';

interface ListOptions extends ClientOptions {
  readonly consumer?: string;
  readonly limit: number;
  readonly offset: number;
}

interface RedriveOptions extends ClientOptions {
  readonly all?: boolean;
  readonly consumer?: string;
  readonly progress?: boolean;
}

interface Listed {
  readonly letters: DeadLetter[];
  /** The service listed as many as it lists at once: there may be more behind them. */
  readonly capped: boolean;
}

/** Dead letters as the service lists them (oldest first, at most 1000), of one consumer or all. */
async function deadLetters(client: AdminClient, consumer: string | undefined): Promise<Listed> {
  const { deadLetters: all } = await client.get<DeadLetters>('/v1/admin/dlq');
  return {
    letters:
      consumer === undefined ? [...all] : all.filter((letter) => letter.consumer === consumer),
    capped: all.length >= DLQ_PAGE_MAX,
  };
}

const CAPPED = `the service lists at most ${DLQ_PAGE_MAX} at a time: there may be more`;

const redrivePath = (id: string): string => `/v1/admin/dlq/${encodeURIComponent(id)}/redrive`;

export function registerDlq(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: events a consumer gave up on, to inspect and redrive');

  addClientOptions(
    dlq
      .command('list')
      .description('dead letters, oldest first')
      .option('--consumer <name>', 'only this consumer group’s')
      .option('--limit <n>', 'at most this many', integerAtLeast(1), 50)
      .option('--offset <n>', 'skip this many first (the next page)', integerAtLeast(0), 0),
  ).action((options: ListOptions) =>
    withClient(options, async ({ client, output }) => {
      const { letters, capped } = await deadLetters(client, options.consumer);
      const page = letters.slice(options.offset, options.offset + options.limit);
      const result = {
        deadLetters: page,
        total: letters.length,
        offset: options.offset,
        limit: options.limit,
        capped,
      };
      print(output, result, () =>
        [renderList(page, letters.length, options), ...(capped ? [CAPPED] : [])].join('\n'),
      );
    }),
  );

  addClientOptions(
    dlq
      .command('show')
      .argument('<id>', 'the dead letter’s id')
      .description('one dead letter in full'),
  ).action((id: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const { letters } = await deadLetters(client, undefined);
      const letter = letters.find((candidate) => candidate.id === id);
      if (!letter) {
        const message = `no dead letter ${id} (it may have been redriven already)`;
        throw new CliError(message, EXIT.rejected, { code: 'not_found', message, status: 404 });
      }
      print(output, letter, () => renderLetter(letter));
    }),
  );

  addClientOptions(
    dlq
      .command('redrive')
      .argument('[id]', 'the dead letter to deliver once more')
      .description(
        'deliver a dead letter (or, with --all, every one listed) to its consumer once more',
      )
      .option('--all', 'every dead letter listed, one by one')
      .option('--consumer <name>', 'with --all: only this consumer group’s')
      .option('--progress', 'show the progress bar on stderr even when it is not a terminal')
      .option('--no-progress', 'never show the progress bar'),
  ).action((id: string | undefined, options: RedriveOptions) =>
    withClient(options, async ({ client, output }) => {
      if ((id === undefined) === (options.all !== true))
        throw usageError('give a dead letter id or --all (not both)');
      if (options.consumer !== undefined && options.all !== true)
        throw usageError('--consumer goes with --all');
      if (id !== undefined) {
        await client.post(redrivePath(id));
        print(output, { redriven: [id], failed: [] }, () => `redriven: ${id}`);
        return;
      }
      return redriveAll(client, output, options);
    }),
  );

  addClientOptions(
    dlq
      .command('discard')
      .argument('<id>', 'the dead letter to remove for good')
      .description('remove a dead letter for good (its event stays in the log)'),
  ).action((id: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      await client.delete(`/v1/admin/dlq/${encodeURIComponent(id)}`);
      print(output, { discarded: [id] }, () => `discarded: ${id}`);
    }),
  );
}

/**
 * Redrives the listed letters one by one. A letter the service refuses (gone already: someone
 * else redrove it) is reported and skipped; a service that stops answering ends the run.
 */
async function redriveAll(
  client: AdminClient,
  output: Output,
  options: RedriveOptions,
): Promise<ExitCode> {
  const { letters, capped } = await deadLetters(client, options.consumer);
  const redriven: string[] = [];
  const failed: { id: string; error: string }[] = [];
  const bar = ProgressBar.start('redriving', letters.length, { enabled: options.progress });
  try {
    for (const letter of letters) {
      try {
        await client.post(redrivePath(letter.id));
        redriven.push(letter.id);
      } catch (error) {
        if (!(error instanceof CliError) || error.exitCode !== EXIT.rejected) throw error;
        failed.push({ id: letter.id, error: error.message });
      }
      bar.update(redriven.length + failed.length);
    }
  } finally {
    bar.finish();
  }
  print(output, { redriven, failed, capped }, () =>
    [
      `redriven ${redriven.length} of ${letters.length} dead letter(s)`,
      ...failed.map(({ id, error }) => `not redriven: ${id}: ${error}`),
      ...(capped ? [`${CAPPED}: run it again for the rest`] : []),
    ].join('\n'),
  );
  return failed.length > 0 ? EXIT.rejected : EXIT.ok;
}

function renderList(page: readonly DeadLetter[], total: number, options: ListOptions): string {
  const whose = options.consumer === undefined ? '' : ` of ${options.consumer}`;
  if (total === 0) return `no dead letters${whose}`;
  if (page.length === 0)
    return `no dead letters${whose} past ${options.offset} (there are ${total})`;
  const rows = page.map((letter) => [
    letter.id,
    letter.consumer,
    letter.event.type,
    letter.event.key,
    String(letter.attempts),
    letter.at,
    clip(letter.lastError, 50),
  ]);
  const last = options.offset + page.length;
  const footer =
    last < total
      ? `${options.offset + 1}–${last} of ${total}${whose}; next page: --offset ${last}`
      : `${options.offset + 1}–${last} of ${total}${whose}`;
  return `${table(['ID', 'CONSUMER', 'EVENT', 'ORDER', 'ATTEMPTS', 'AT', 'LAST ERROR'], rows)}\n${footer}`;
}

function renderLetter(letter: DeadLetter): string {
  return [
    fields([
      ['id', letter.id],
      ['consumer', letter.consumer],
      ['attempts', String(letter.attempts)],
      ['dead since', letter.at],
      ['last error', letter.lastError],
      ['event', `${letter.event.type} #${letter.event.seq} (${letter.event.id})`],
      ['order', letter.event.key],
      ['event at', letter.event.at],
    ]),
    'data:',
    JSON.stringify(letter.event.data, null, 2),
  ].join('\n');
}

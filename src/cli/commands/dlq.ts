import type { Command } from 'commander';
import { withQuery, type AdminClient } from '../admin-client.js';
import { DLQ_PAGE_MAX, type DeadLetter, type DeadLetters } from '../api-types.js';
import { CliError, EXIT, usageError, type ExitCode } from '../cli-error.js';
import {
  addClientOptions,
  addPageOptions,
  withClient,
  type ClientOptions,
} from '../client-command.js';
import { clip, fields, print, table, type Output } from '../output.js';
import { ProgressBar } from '../progress.js';

/** Which letters: the service filters (and pages) them, never this command. */
interface Filter {
  readonly consumer?: string;
  readonly error?: string;
}

interface ListOptions extends ClientOptions, Filter {
  readonly limit: number;
  readonly cursor?: string;
}

interface RedriveOptions extends ClientOptions, Filter {
  readonly all?: boolean;
  readonly progress?: boolean;
}

/** One page of dead letters as the service lists them, oldest first. */
function page(
  client: AdminClient,
  filter: Filter,
  limit: number,
  cursor: string | undefined,
): Promise<DeadLetters> {
  const { consumer, error } = filter;
  return client.get<DeadLetters>(withQuery('/v1/admin/dlq', { consumer, error, limit, cursor }));
}

/** Every dead letter the filter matches, page after page, each once. */
async function everyLetter(client: AdminClient, filter: Filter): Promise<DeadLetter[]> {
  const letters = new Map<string, DeadLetter>();
  let cursor: string | undefined;
  do {
    const listed = await page(client, filter, DLQ_PAGE_MAX, cursor);
    for (const letter of listed.deadLetters)
      if (!letters.has(letter.id)) letters.set(letter.id, letter);
    cursor = listed.nextCursor;
  } while (cursor !== undefined);
  return [...letters.values()];
}

const redrivePath = (id: string): string => `/v1/admin/dlq/${encodeURIComponent(id)}/redrive`;

export function registerDlq(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: events a consumer gave up on, to inspect and redrive');

  addClientOptions(
    addPageOptions(
      dlq
        .command('list')
        .description('dead letters, oldest first, a page at a time')
        .option('--consumer <name>', 'only this consumer group’s')
        .option('--error <text>', 'only those whose last error contains this text'),
      DLQ_PAGE_MAX,
    ),
  ).action((options: ListOptions) =>
    withClient(options, async ({ client, output }) => {
      const listed = await page(client, options, options.limit, options.cursor);
      print(output, listed, () => renderList(listed, options));
    }),
  );

  addClientOptions(
    dlq
      .command('show')
      .argument('<id>', 'the dead letter’s id')
      .description('one dead letter in full'),
  ).action((id: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const letter = (await everyLetter(client, {})).find((candidate) => candidate.id === id);
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
        'deliver a dead letter (or, with --all, every one listed) to its consumer once more, ' +
          'with a fresh set of attempts',
      )
      .option('--all', 'every dead letter listed, one by one')
      .option('--consumer <name>', 'with --all: only this consumer group’s')
      .option('--error <text>', 'with --all: only those whose last error contains this text')
      .option('--progress', 'show the progress bar on stderr even when it is not a terminal')
      .option('--no-progress', 'never show the progress bar'),
  ).action((id: string | undefined, options: RedriveOptions) =>
    withClient(options, async ({ client, output }) => {
      if ((id === undefined) === (options.all !== true))
        throw usageError('give a dead letter id or --all (not both)');
      if ((options.consumer !== undefined || options.error !== undefined) && options.all !== true)
        throw usageError('--consumer and --error go with --all');
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
 * Redrives the listed letters one by one: all of them are listed first, so that a letter
 * that fails again while the run goes on is not redriven twice. A letter the service
 * refuses (gone already: someone else redrove it) is reported and skipped; a service that
 * stops answering ends the run.
 */
async function redriveAll(
  client: AdminClient,
  output: Output,
  options: RedriveOptions,
): Promise<ExitCode> {
  const letters = await everyLetter(client, options);
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
  print(output, { redriven, failed }, () =>
    [
      `redriven ${redriven.length} of ${letters.length} dead letter(s)`,
      ...failed.map(({ id, error }) => `not redriven: ${id}: ${error}`),
    ].join('\n'),
  );
  return failed.length > 0 ? EXIT.rejected : EXIT.ok;
}

function renderList({ deadLetters, nextCursor }: DeadLetters, options: ListOptions): string {
  const whose = [
    options.consumer === undefined ? '' : ` of ${options.consumer}`,
    options.error === undefined ? '' : ` with “${options.error}” in the last error`,
  ].join('');
  if (deadLetters.length === 0)
    return options.cursor === undefined
      ? `no dead letters${whose}`
      : `no more dead letters${whose}`;
  const rows = deadLetters.map((letter) => [
    letter.id,
    letter.consumer,
    letter.event.type,
    letter.event.key,
    String(letter.attempts),
    letter.at,
    clip(letter.lastError, 50),
  ]);
  const footer =
    nextCursor === undefined
      ? `${deadLetters.length} dead letter(s)${whose}; no more`
      : `${deadLetters.length} dead letter(s)${whose}; next page: --cursor ${nextCursor}`;
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

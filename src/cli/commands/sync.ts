import type { Command } from 'commander';
import type { SyncReport } from '../api-types.js';
import { addClientOptions, withClient, type ClientOptions } from '../client-command.js';
import { print } from '../output.js';

/** A sync works through its whole backlog before it answers: it may take longer than a read. */
const SYNC_TIMEOUT = '5m';

const SYNCS = {
  stock: {
    description: 'sync-in now: the source of truth’s on-hand into the stock cache',
    done: (count: number) => `sync-in reconciled ${count} SKU(s) with the source of truth`,
  },
  orders: {
    description: 'sync-out now: terminal orders into the source of truth',
    done: (count: number) => `sync-out wrote ${count} order(s) to the source of truth`,
  },
} as const;

export function registerSync(program: Command): void {
  const sync = program
    .command('sync')
    .description('run a sync now instead of waiting for its schedule');
  for (const [what, { description, done }] of Object.entries(SYNCS)) {
    addClientOptions(sync.command(what).description(description), SYNC_TIMEOUT).action(
      (options: ClientOptions) =>
        withClient(options, async ({ client, output }) => {
          const report = await client.post<SyncReport>(`/v1/admin/sync/${what}`);
          print(output, report, () => `${done(report.count)} at ${report.at}`);
        }),
    );
  }
}

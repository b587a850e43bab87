import type { Command } from 'commander';
import type { Stats } from '../api-types.js';
import { addClientOptions, withClient, type ClientOptions } from '../client-command.js';
import { print, table } from '../output.js';

export function registerStats(program: Command): void {
  addClientOptions(
    program
      .command('stats')
      .description(
        'orders by current status, each consumer group’s lag and dead letters, the sync backlog',
      ),
  ).action((options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const stats = await client.get<Stats>('/v1/admin/stats');
      print(output, stats, () => renderStats(stats));
    }),
  );
}

function renderStats({ orders, consumers, sync }: Stats): string {
  const statuses = table(
    ['STATUS', 'ORDERS'],
    Object.entries(orders).map(([status, count]) => [status, String(count)]),
  );
  const groups = Object.entries(consumers);
  const lag =
    groups.length === 0
      ? 'no consumer groups yet'
      : table(
          ['CONSUMER', 'LAG', 'IN FLIGHT', 'DEAD LETTERS'],
          groups.map(([group, { lag, inFlight, dlq }]) => [
            group,
            String(lag),
            String(inFlight),
            String(dlq),
          ]),
        );
  const last = sync.lastSyncAt === null ? 'never' : sync.lastSyncAt;
  return [
    statuses,
    '',
    lag,
    '',
    `sync-out backlog: ${sync.backlog} orders (last sync: ${last})`,
  ].join('\n');
}

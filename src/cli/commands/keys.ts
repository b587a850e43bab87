import type { Command } from 'commander';
import type { ApiKeyList, CreatedApiKey } from '../api-types.js';
import { usageError } from '../cli-error.js';
import { addClientOptions, withClient, type ClientOptions } from '../client-command.js';
import { fields, print, table } from '../output.js';

interface CreateOptions extends ClientOptions {
  readonly scopes: string;
  readonly name?: string;
}

/** The scopes the API knows (DESIGN.md "Keys and scopes"); the service checks them too. */
const KNOWN_SCOPES = ['orders:write', 'orders:read', 'admin:read', 'admin:write'];

/** `orders:write,orders:read`: each scope once, every one a known scope. */
function scopeList(text: string): string[] {
  const scopes = [
    ...new Set(
      text
        .split(',')
        .map((scope) => scope.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = scopes.filter((scope) => !KNOWN_SCOPES.includes(scope));
  if (scopes.length === 0 || unknown.length > 0)
    throw usageError(
      `--scopes ${text}: give a comma-separated list of ${KNOWN_SCOPES.join(', ')}` +
        (unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''),
    );
  return scopes;
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys: create them with scopes (shown once), list them, revoke them');

  addClientOptions(
    keys
      .command('create')
      .description('create a key; it is printed once and never shown again')
      .requiredOption(
        '--scopes <list>',
        `comma-separated: ${KNOWN_SCOPES.join(', ')} (at most those of ORDERFLOW_ADMIN_KEY)`,
      )
      .option('--name <name>', 'a label for it: which shop, which script'),
  ).action((options: CreateOptions) =>
    withClient(options, async ({ client, output }) => {
      const body = {
        scopes: scopeList(options.scopes),
        ...(options.name !== undefined && { name: options.name }),
      };
      const created = await client.post<CreatedApiKey>('/v1/admin/keys', body);
      print(output, created, () =>
        [
          fields([
            ['id', created.id],
            ['name', created.name ?? '-'],
            ['scopes', created.scopes.join(',')],
            ['created', created.createdAt],
            ['key', created.key],
          ]),
          '',
          'Store the key now: it will not be shown again (orderflow keeps only its SHA-256 digest).',
        ].join('\n'),
      );
    }),
  );

  addClientOptions(
    keys.command('list').description('the stored keys, oldest first (never the keys themselves)'),
  ).action((options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const listed = await client.get<ApiKeyList>('/v1/admin/keys');
      print(output, listed, () => {
        if (listed.keys.length === 0)
          return 'no stored keys (keys of ORDERFLOW_API_KEYS are not listed)';
        const rows = listed.keys.map((key) => [
          key.id,
          key.name ?? '-',
          key.scopes.join(','),
          key.createdAt,
          key.lastUsedAt ?? 'never',
        ]);
        return `${table(['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED'], rows)}\n${listed.keys.length} key(s)`;
      });
    }),
  );

  addClientOptions(
    keys
      .command('revoke')
      .argument('<id>', 'the key’s id (keys list shows it)')
      .description('revoke a key: every process refuses it within a second'),
  ).action((id: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      await client.delete(`/v1/admin/keys/${encodeURIComponent(id)}`);
      print(output, { revoked: [id] }, () => `revoked: ${id}`);
    }),
  );
}

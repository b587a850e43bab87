import type { Command } from 'commander';
import type { AdminProduct } from '../api-types.js';
import { CliError, EXIT, usageError } from '../cli-error.js';
import {
  addClientOptions,
  integerAtLeast,
  withClient,
  type ClientOptions,
} from '../client-command.js';
import { fields, money, print } from '../output.js';

interface SetOptions extends ClientOptions {
  readonly onHand: number;
  readonly name?: string;
  readonly price?: number;
  readonly currency?: string;
}

const productPath = (sku: string): string => `/v1/admin/products/${encodeURIComponent(sku)}`;

export function registerStock(program: Command): void {
  const stock = program.command('stock').description('a product’s stock and catalog entry');

  addClientOptions(
    stock
      .command('get')
      .argument('<sku>')
      .description('on hand (source of truth), available and reserved (stock cache), name, price'),
  ).action((sku: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const product = await client.get<AdminProduct>(productPath(sku));
      print(output, product, () => renderProduct(product));
    }),
  );

  addClientOptions(
    stock
      .command('set')
      .argument('<sku>')
      .description(
        'write a product to the source of truth and push it to the stock cache at once; ' +
          'name, price and currency not given stay as they are (a new product needs --name and --price)',
      )
      .requiredOption('--on-hand <n>', 'units on hand', integerAtLeast(0))
      .option('--name <name>', 'the product’s name')
      .option('--price <minor-units>', 'the price in minor units (1999 = 19.99)', integerAtLeast(0))
      .option('--currency <code>', 'ISO 4217 code (default: the current one, else USD)'),
  ).action((sku: string, options: SetOptions) =>
    withClient(options, async ({ client, output }) => {
      const currency = options.currency?.toUpperCase();
      if (currency !== undefined && !/^[A-Z]{3}$/.test(currency))
        throw usageError(`--currency ${options.currency}: three letters, e.g. USD`);
      const current = await client.find<AdminProduct>(productPath(sku));
      const name = options.name ?? current?.name;
      const amount = options.price ?? current?.price.amount;
      if (name === undefined || amount === undefined) {
        const message = `there is no product ${sku} yet: give --name and --price to create it`;
        throw new CliError(message, EXIT.rejected, { code: 'not_found', message, status: 404 });
      }
      const product = await client.put<AdminProduct>(productPath(sku), {
        name,
        price: { amount, currency: currency ?? current?.price.currency ?? 'USD' },
        onHand: options.onHand,
      });
      print(output, product, () => renderProduct(product));
    }),
  );
}

function renderProduct(product: AdminProduct): string {
  return fields([
    ['sku', product.sku],
    ['name', product.name],
    ['price', money(product.price)],
    [
      'on hand',
      product.onHand === null
        ? 'unknown (the source of truth is unreachable)'
        : String(product.onHand),
    ],
    ['available', String(product.available)],
    ['reserved', String(product.reserved)],
  ]);
}

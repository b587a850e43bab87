import type { Command } from 'commander';
import { withQuery } from '../admin-client.js';
import {
  ORDER_PAGE_MAX,
  type OrderList,
  type OrderView,
  type Outcome,
  type Timeline,
} from '../api-types.js';
import {
  addClientOptions,
  addPageOptions,
  withClient,
  type ClientOptions,
} from '../client-command.js';
import { clip, fields, money, print, table } from '../output.js';

interface ListOptions extends ClientOptions {
  readonly status?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export function registerOrders(program: Command): void {
  const orders = program.command('orders').description('orders, as the service sees them');
  addClientOptions(
    orders
      .command('show')
      .argument('<id>', 'the order id')
      .description(
        'an order (any order: the admin key sees all), its status history and its timeline: ' +
          'every event of it in the log with each consumer’s outcome',
      ),
  ).action((id: string, options: ClientOptions) =>
    withClient(options, async ({ client, output }) => {
      const path = encodeURIComponent(id);
      const order = await client.get<OrderView>(`/v1/orders/${path}`);
      // An order older than the replay window has no events left in the log.
      const timeline = (await client.find<Timeline>(`/v1/admin/orders/${path}/timeline`)) ?? {
        orderId: id,
        events: [],
      };
      print(output, { order, timeline }, () => renderOrder(order, timeline));
    }),
  );
  addClientOptions(
    addPageOptions(
      orders
        .command('list')
        .description(
          'orders newest first, of one status or all, a page at a time (to find stuck ones)',
        )
        .option('--status <status>', 'only orders in this status now (PENDING, RESERVED, …)'),
      ORDER_PAGE_MAX,
    ),
  ).action((options: ListOptions) =>
    withClient(options, async ({ client, output }) => {
      const { status, limit, cursor } = options;
      const listed = await client.get<OrderList>(
        withQuery('/v1/admin/orders', { status, limit, cursor }),
      );
      print(output, listed, () => renderList(listed, options));
    }),
  );
}

function renderList({ orders, nextCursor }: OrderList, options: ListOptions): string {
  const which = options.status === undefined ? 'orders' : `${options.status} orders`;
  if (orders.length === 0) return options.cursor === undefined ? `no ${which}` : `no more ${which}`;
  const rows = orders.map((order) => [
    order.orderId,
    order.status,
    order.customerId,
    money(order.total),
    order.createdAt,
    order.updatedAt,
  ]);
  const footer =
    nextCursor === undefined
      ? `${orders.length} ${which}; no more`
      : `${orders.length} ${which}; next page: --cursor ${nextCursor}`;
  return `${table(['ORDER', 'STATUS', 'CUSTOMER', 'TOTAL', 'CREATED', 'UPDATED'], rows)}\n${footer}`;
}

function renderOrder(order: OrderView, timeline: Timeline): string {
  const summary = fields([
    ['order', order.orderId],
    ['status', order.reason === undefined ? order.status : `${order.status} (${order.reason})`],
    ['customer', `${order.customerId} <${order.email}>`],
    ['total', money(order.total)],
    ['created', order.createdAt],
    ['updated', order.updatedAt],
  ]);
  const items = table(
    ['SKU', 'QTY', 'UNIT PRICE'],
    order.items.map(({ sku, qty, unitPrice }) => [sku, String(qty), money(unitPrice)]),
  );
  const history = table(
    ['STATUS', 'AT'],
    order.history.map(({ status, at }) => [status, at]),
  );
  return [
    summary,
    '',
    items,
    '',
    history,
    '',
    timeline.events.length === 0
      ? 'timeline: no events of this order left in the log (older than the replay window)'
      : renderTimeline(timeline),
    ...(timeline.complete === false && timeline.events.length > 0
      ? ['', `note: ${timeline.note ?? 'events older than the log retention are gone'}`]
      : []),
  ].join('\n');
}

/** One row per event and consumer; the event's cells only on its first row. */
function renderTimeline({ events }: Timeline): string {
  const rows = events.flatMap((event) => {
    const what = eventLabel(event.type, event.data);
    const outcomes = Object.entries(event.outcomes);
    if (outcomes.length === 0) return [[String(event.seq), what, event.at, '', '']];
    return outcomes.map(([group, outcome], index) => [
      index === 0 ? String(event.seq) : '',
      index === 0 ? what : '',
      index === 0 ? event.at : '',
      group,
      outcomeLabel(outcome),
    ]);
  });
  return table(['SEQ', 'EVENT', 'AT', 'CONSUMER', 'OUTCOME'], rows);
}

/** `OrderStatusChanged → PAID`: the status an event carries, where it carries one. */
function eventLabel(type: string, data: unknown): string {
  const status = (data as { status?: unknown } | null)?.status;
  return typeof status === 'string' && !type.endsWith(status) ? `${type} → ${status}` : type;
}

function outcomeLabel({ state, attempts, lastError }: Outcome): string {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  return lastError === undefined ? `${state}${tries}` : `${state}${tries}: ${clip(lastError)}`;
}

import Database from 'better-sqlite3';
import { defineConsumer, type ConsumerDefinition } from 'orderflow';

/**
 * A shop's own consumer, added without touching checkout: loyalty points, one per whole
 * unit of currency spent, taken back when the order is refunded. The credit and the
 * record that it was made are one SQLite transaction, so a redelivered event (or a
 * replay) credits nothing twice.
 */
export interface Loyalty {
  readonly consumer: ConsumerDefinition;
  pointsOf(customerId: string): number;
  close(): void;
}

export function createLoyalty(path: string): Loyalty {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS points (customer_id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS credited (order_id TEXT, status TEXT, PRIMARY KEY (order_id, status));
  `);
  const mark = db.prepare('INSERT OR IGNORE INTO credited (order_id, status) VALUES (?, ?)');
  const add = db.prepare(
    `INSERT INTO points (customer_id, balance) VALUES (?, ?)
     ON CONFLICT (customer_id) DO UPDATE SET balance = balance + excluded.balance`,
  );
  const balance = db.prepare<[string], { balance: number }>(
    'SELECT balance FROM points WHERE customer_id = ?',
  );
  const credit = db.transaction(
    (orderId: string, status: string, customerId: string, delta: number) => {
      if (mark.run(orderId, status).changes === 1) add.run(customerId, delta);
    },
  );

  const consumer = defineConsumer({
    name: 'loyalty',
    on: ['COMPLETED', 'REFUNDED'],
    handle: ({ order, status }) => {
      const points = Math.floor(order.total.amount / 100);
      credit(order.orderId, status, order.customerId, status === 'COMPLETED' ? points : -points);
      return Promise.resolve();
    },
  });

  return {
    consumer,
    pointsOf: (customerId) => balance.get(customerId)?.balance ?? 0,
    close: () => db.close(),
  };
}

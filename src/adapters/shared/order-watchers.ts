import type { Order } from '../../domain/order.js';

type Listener = (order: Order) => void;

/**
 * The listeners of `OrderStore.watch`, by order id, for any adapter: a listener that throws
 * is reported as a warning and never fails the write that notified it.
 */
export class OrderWatchers {
  private readonly listeners = new Map<string, Set<Listener>>();

  add(orderId: string, listener: Listener): () => void {
    let listeners = this.listeners.get(orderId);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(orderId, listeners);
    }
    listeners.add(listener);
    return () => {
      const current = this.listeners.get(orderId);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(orderId);
    };
  }

  ids(): string[] {
    return [...this.listeners.keys()];
  }

  watched(orderId: string): boolean {
    return this.listeners.has(orderId);
  }

  notify(order: Order): void {
    for (const listener of [...(this.listeners.get(order.orderId) ?? [])]) {
      try {
        listener(order);
      } catch (error) {
        process.emitWarning(
          error instanceof Error ? error : new Error(String(error)),
          'OrderflowWatchWarning',
        );
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

import http from 'node:http';
import { sleep } from '../stats.js';
import type { CompletionTracker } from '../variants/target.js';

const FINAL = new Set(['COMPLETED', 'FAILED_NO_STOCK', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED']);

interface Watch {
  readonly orderId: string;
  readonly acceptedAt: number;
  /** The COMPLETED entry's own time (the server's clock, the same machine's). */
  recordedAt?: number;
  /** When this client received COMPLETED. */
  observedAt?: number;
  final?: string;
  request?: http.ClientRequest;
}

/**
 * Follows each accepted order over `GET /v1/orders/{id}/events` (one stream per order, as
 * a checkout page would) until its final status. A stream that fails or is refused is
 * settled afterwards from `GET /v1/orders/{id}` (its history has every status's time).
 * With `follow` false no stream is opened: every order is read that way once the load is
 * over, so that the watching costs the service nothing while it is measured.
 */
export class SseTracker implements CompletionTracker {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly watches: Watch[] = [];
  private open = 0;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly follow = true,
  ) {}

  track(orderId: string, acceptedAt: number): void {
    const watch: Watch = { orderId, acceptedAt };
    this.watches.push(watch);
    if (!this.follow) return;
    this.open += 1;
    let buffer = '';
    const done = (): void => {
      if (watch.request === undefined) return;
      watch.request = undefined;
      this.open -= 1;
      if (this.open === 0) this.onIdle?.();
    };
    watch.request = http.get(
      `${this.url}/v1/orders/${orderId}/events`,
      { agent: this.agent, headers: { ...this.headers, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          res.on('end', done);
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (data !== undefined)
              this.seen(watch, JSON.parse(data) as { status: string; at: string });
          }
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    watch.request.on('error', done);
  }

  private seen(watch: Watch, entry: { status: string; at: string }): void {
    if (!FINAL.has(entry.status) || watch.final !== undefined) return;
    watch.final = entry.status;
    if (entry.status === 'COMPLETED') {
      watch.observedAt = Date.now();
      watch.recordedAt = Date.parse(entry.at);
    }
  }

  async settle(timeoutMs: number): Promise<{
    recorded: number[];
    observed: number[] | undefined;
    notCompleted: number;
    unknown: number;
  }> {
    if (this.open > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const watch of this.watches) watch.request?.destroy();
    const deadline = Date.now() + timeoutMs;
    while ((await this.readMissing(deadline)) > 0 && Date.now() < deadline) await sleep(500);
    this.agent.destroy();
    const recorded: number[] = [];
    const observed: number[] = [];
    let notCompleted = 0;
    let unknown = 0;
    for (const watch of this.watches) {
      if (watch.final === undefined) unknown += 1;
      else if (watch.final !== 'COMPLETED' || watch.recordedAt === undefined) notCompleted += 1;
      else {
        // The server may stamp COMPLETED before this client has read its 202.
        recorded.push(Math.max(0, watch.recordedAt - watch.acceptedAt));
        if (watch.observedAt !== undefined) observed.push(watch.observedAt - watch.acceptedAt);
      }
    }
    return { recorded, observed: this.follow ? observed : undefined, notCompleted, unknown };
  }

  /** Orders not seen final: their final status and its time, from the order itself. Returns how many are still not final. */
  private async readMissing(deadline: number): Promise<number> {
    const missing = this.watches.filter((watch) => watch.final === undefined);
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < missing.length && Date.now() < deadline) {
          const watch = missing[next++];
          if (!watch) break;
          const response = await fetch(`${this.url}/v1/orders/${watch.orderId}`, {
            headers: this.headers,
            signal: AbortSignal.timeout(10_000),
          }).catch(() => undefined);
          if (!response?.ok) continue;
          const order = (await response.json()) as { history: { status: string; at: string }[] };
          const final = order.history.find((entry) => FINAL.has(entry.status));
          if (!final) continue;
          watch.final = final.status;
          if (final.status === 'COMPLETED') watch.recordedAt = Date.parse(final.at);
        }
      }),
    );
    return missing.filter((watch) => watch.final === undefined).length;
  }
}

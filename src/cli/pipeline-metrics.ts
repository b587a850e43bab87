import type { ChildProcess } from 'node:child_process';
import type { Registry } from 'prom-client';
import type { MetricFamilies } from '../runtime/metrics-render.js';

/**
 * The metrics of the embedded pipeline process, asked for over its IPC channel, so that
 * the API's `/metrics` shows what the saga, the consumers and the schedules count. Three
 * messages: the child says `ready` once it answers, the parent asks (`metrics?`, an id),
 * the child answers with its registry's families or the error that kept it from them.
 */
const READY = 'orderflow:metrics-ready';
const REQUEST = 'orderflow:metrics?';
const REPLY = 'orderflow:metrics';

interface Reply {
  readonly type: typeof REPLY;
  readonly id: number;
  readonly metrics?: MetricFamilies;
  readonly error?: string;
}

interface Pending {
  resolve(metrics: MetricFamilies): void;
  reject(error: Error): void;
}

function messageType(message: unknown): unknown {
  return typeof message === 'object' && message !== null
    ? (message as { type?: unknown }).type
    : undefined;
}

function isReply(message: unknown): message is Reply {
  return messageType(message) === REPLY && typeof (message as { id?: unknown }).id === 'number';
}

function isRequest(message: unknown): message is { type: typeof REQUEST; id: number } {
  return messageType(message) === REQUEST && typeof (message as { id?: unknown }).id === 'number';
}

/** The parent's end, for one child: requests by id, each bounded by its own timeout. */
export class PipelineMetricsChannel {
  private answering = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly child: ChildProcess) {
    child.on('message', (message: unknown) => {
      if (messageType(message) === READY) this.answering = true;
      if (!isReply(message)) return;
      const request = this.pending.get(message.id);
      if (!request) return;
      this.pending.delete(message.id);
      if (message.metrics) request.resolve(message.metrics);
      else request.reject(new Error(`the pipeline process: ${message.error ?? 'no metrics'}`));
    });
    child.once('exit', () => {
      this.answering = false;
      for (const request of this.pending.values()) {
        request.reject(new Error('the pipeline process exited'));
      }
      this.pending.clear();
    });
  }

  /**
   * The child's metric families; none while it is still starting (it has counted nothing
   * yet). Rejects when it does not answer within `timeoutMs`, fails, or exits.
   */
  request(timeoutMs: number): Promise<MetricFamilies> {
    if (!this.answering) return Promise.resolve([]);
    if (!this.child.connected) return Promise.reject(new Error('the pipeline process is gone'));
    const id = this.nextId++;
    return new Promise<MetricFamilies>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the pipeline process sent no metrics within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const settle =
        <T>(then: (value: T) => void) =>
        (value: T): void => {
          clearTimeout(timer);
          then(value);
        };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      this.child.send({ type: REQUEST, id }, (error) => {
        if (!error || !this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}

/**
 * The child's end: answers the parent's requests with `registry`'s families, once told
 * it may (`ready`). Does nothing without an IPC channel. Returns how to stop answering.
 */
export function answerMetricsRequests(registry: Registry): () => void {
  const channel = process.send?.bind(process);
  if (!channel) return () => undefined;
  // With a callback, a channel that closed meanwhile is not an 'error' event (a crash).
  const send = (message: object): void => {
    channel(message, undefined, undefined, () => undefined);
  };
  const answer = (message: unknown): void => {
    if (!isRequest(message)) return;
    const { id } = message;
    registry.getMetricsAsJSON().then(
      (metrics) => send({ type: REPLY, id, metrics } satisfies Reply),
      (error: unknown) =>
        send({
          type: REPLY,
          id,
          error: error instanceof Error ? error.message : 'unknown failure',
        } satisfies Reply),
    );
  };
  process.on('message', answer);
  send({ type: READY });
  return () => process.off('message', answer);
}

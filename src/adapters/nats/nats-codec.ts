import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { DeadLetter, DeliveryOutcome, LogEvent, NewEvent } from '../../ports/event-log.js';

/**
 * Headers of the messages the NATS event log stores. The event's own fields travel in
 * headers (subjects hold sanitized tokens only), percent-encoded so that any string
 * survives; the payload is the event's data as JSON, untouched. The event's own headers
 * (`NewEvent.headers`: `traceparent`, `tracestate`) travel as message headers of their
 * own names, as any NATS tool expects them: every header that is not the log's (`Nats-*`,
 * `Orderflow-*`) is the event's.
 */
export const HEADER = {
  msgId: 'Nats-Msg-Id',
  id: 'Orderflow-Id',
  type: 'Orderflow-Type',
  key: 'Orderflow-Key',
  /** When the event was appended, by the log's clock (the server's timestamp is not it). */
  appendedAt: 'Orderflow-Appended-At',
  /** On a redriven copy in the events stream: the one group it is for. */
  redriveFor: 'Orderflow-Redrive-Group',
  group: 'Orderflow-Group',
  /** Stream sequence of the original event. */
  seq: 'Orderflow-Seq',
  attempts: 'Orderflow-Attempts',
  lastError: 'Orderflow-Last-Error',
  /** When it was dead-lettered. */
  at: 'Orderflow-At',
} as const;

/** Headers a dead letter or a redriven copy sets anew rather than copies. */
const PER_COPY: ReadonlySet<string> = new Set([
  HEADER.msgId,
  HEADER.redriveFor,
  HEADER.group,
  HEADER.seq,
  HEADER.attempts,
  HEADER.lastError,
  HEADER.at,
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeData(data: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(data ?? null));
}

export function eventHeaders(event: NewEvent, at: number): MsgHdrs {
  const h = headers();
  h.set(HEADER.id, encodeURIComponent(event.id));
  h.set(HEADER.type, encodeURIComponent(event.type));
  h.set(HEADER.key, encodeURIComponent(event.key));
  h.set(HEADER.appendedAt, String(at));
  if (event.headers !== undefined) {
    for (const [name, value] of Object.entries(event.headers)) {
      if (!isLogHeader(name)) h.set(name, headerSafe(value));
    }
  }
  return h;
}

/** The event in a stored message; undefined for a message orderflow did not write. */
export function decodeEvent(
  seq: number,
  h: MsgHdrs | undefined,
  data: Uint8Array,
): LogEvent | undefined {
  const id = text(h, HEADER.id);
  const type = text(h, HEADER.type);
  const key = text(h, HEADER.key);
  const at = count(h, HEADER.appendedAt);
  if (id === undefined || type === undefined || key === undefined || at === undefined) {
    return undefined;
  }
  const event = { id, type, key, at, seq, data: parseData(data) };
  const carried = eventOwnHeaders(h);
  return carried === undefined ? event : { ...event, headers: carried };
}

/** Names of the log's own headers: the server's (`Nats-`) and the event's fields (`Orderflow-`). */
function isLogHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('nats-') || lower.startsWith('orderflow-');
}

/** The headers the event carries (its trace context); undefined when there are none. */
function eventOwnHeaders(h: MsgHdrs | undefined): Record<string, string> | undefined {
  let carried: Record<string, string> | undefined;
  if (!h) return carried;
  for (const [name, values] of h) {
    const [value] = values;
    if (isLogHeader(name) || value === undefined) continue;
    carried ??= {};
    carried[name] = value;
  }
  return carried;
}

/** A delivered message: the event, the group a redriven copy is for, attempts before it. */
export interface DeliveredEvent {
  readonly event: LogEvent;
  readonly redriveFor: string | undefined;
  readonly priorAttempts: number;
}

export function decodeDelivered(
  seq: number,
  h: MsgHdrs | undefined,
  data: Uint8Array,
): DeliveredEvent | undefined {
  const redriveFor = text(h, HEADER.redriveFor);
  const originalSeq = redriveFor === undefined ? seq : count(h, HEADER.seq);
  if (originalSeq === undefined) return undefined;
  const event = decodeEvent(originalSeq, h, data);
  if (!event) return undefined;
  const priorAttempts = redriveFor === undefined ? 0 : (count(h, HEADER.attempts) ?? 0);
  return { event, redriveFor, priorAttempts };
}

export interface DeadLetterFields {
  readonly group: string;
  readonly seq: number;
  readonly attempts: number;
  readonly lastError: string;
  readonly at: number;
}

/** The original headers (the event's fields and any others) plus the dead letter's. */
export function deadLetterHeaders(source: MsgHdrs | undefined, fields: DeadLetterFields): MsgHdrs {
  const h = copyHeaders(source);
  h.set(HEADER.group, encodeURIComponent(fields.group));
  h.set(HEADER.seq, String(fields.seq));
  h.set(HEADER.attempts, String(fields.attempts));
  h.set(HEADER.lastError, headerSafe(fields.lastError));
  h.set(HEADER.at, String(fields.at));
  return h;
}

export function decodeDeadLetter(
  dlqSeq: number,
  h: MsgHdrs | undefined,
  data: Uint8Array,
): DeadLetter | undefined {
  const group = text(h, HEADER.group);
  const seq = count(h, HEADER.seq);
  const attempts = count(h, HEADER.attempts);
  const at = count(h, HEADER.at);
  const event = seq === undefined ? undefined : decodeEvent(seq, h, data);
  if (group === undefined || attempts === undefined || at === undefined || !event) {
    return undefined;
  }
  const lastError = h?.get(HEADER.lastError) ?? '';
  return { id: String(dlqSeq), group, event, attempts, lastError, at };
}

/** A dead letter's copy back in the events stream, for its own group only. */
export function redriveHeaders(letter: DeadLetter, source: MsgHdrs | undefined): MsgHdrs {
  const h = copyHeaders(source);
  h.set(HEADER.redriveFor, encodeURIComponent(letter.group));
  h.set(HEADER.seq, String(letter.event.seq));
  h.set(HEADER.attempts, String(letter.attempts));
  return h;
}

export function isRedriveCopy(h: MsgHdrs | undefined): boolean {
  return h?.has(HEADER.redriveFor) ?? false;
}

/** A group's outcome for one event, kept (last one per subject) in the outcomes stream. */
export function encodeOutcome(outcome: DeliveryOutcome): Uint8Array {
  return encoder.encode(JSON.stringify(outcome));
}

const STATES: ReadonlySet<unknown> = new Set(['pending', 'acked', 'retrying', 'dead']);

export function decodeOutcome(data: Uint8Array): DeliveryOutcome | undefined {
  const value = parseData(data) as Partial<DeliveryOutcome> | null;
  if (!value || !STATES.has(value.state) || typeof value.attempts !== 'number') return undefined;
  const outcome: DeliveryOutcome = {
    state: value.state as DeliveryOutcome['state'],
    attempts: value.attempts,
  };
  return typeof value.lastError === 'string' ? { ...outcome, lastError: value.lastError } : outcome;
}

function copyHeaders(source: MsgHdrs | undefined): MsgHdrs {
  const h = headers();
  if (!source) return h;
  for (const [name, values] of source) {
    if (PER_COPY.has(name)) continue;
    for (const value of values) h.append(name, value);
  }
  return h;
}

/** Header values cannot hold CR or LF; an error message is for people, so keep it short. */
function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 2048);
}

function text(h: MsgHdrs | undefined, name: string): string | undefined {
  if (!h?.has(name)) return undefined;
  const raw = h.get(name);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function count(h: MsgHdrs | undefined, name: string): number | undefined {
  const raw = h?.has(name) ? Number(h.get(name)) : NaN;
  return Number.isFinite(raw) ? raw : undefined;
}

function parseData(data: Uint8Array): unknown {
  if (data.length === 0) return null;
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch {
    return null;
  }
}

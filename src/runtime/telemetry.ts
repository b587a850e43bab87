import { diag, DiagLogLevel } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node';
import type { Logger } from 'pino';
import { ConfigError } from './config.js';

/** The tracing of this process, as `startTelemetry` set it up. */
export interface Telemetry {
  /** Where spans are exported (`OTEL_EXPORTER_OTLP_*`); undefined: nowhere. */
  readonly endpoint: string | undefined;
  /** Exports the spans still pending and stops exporting. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Told of export failures and of the set-up. */
  readonly logger: Logger;
  /** Added to the resource (`OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` win). */
  readonly resource?: Readonly<Record<string, string>>;
}

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
/** A stop waits this long for the last spans: a collector that is down never holds it up. */
const SHUTDOWN_DEADLINE_MS = 3_000;
type Protocol = (typeof PROTOCOLS)[number];

let started: Telemetry | undefined;

/**
 * Registers the OpenTelemetry SDK for this process, once (a second call answers the first
 * one's handle). Spans always get real ids, so that log lines carry a `traceId`; they are
 * recorded and exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, by a batch processor that follows the
 * standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_BSP_*`,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER=none`). With
 * `OTEL_SDK_DISABLED=true` nothing is registered and tracing stays the API's no-op. The
 * trace context is propagated as W3C `traceparent` / `tracestate` only. No instrumentation
 * is installed: orderflow makes its own spans (HTTP requests, deliveries, saga steps).
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  if (started) return started;
  const { logger } = options;
  if (setting('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    started = { endpoint: undefined, shutdown: () => Promise.resolve() };
    return started;
  }
  const endpoint = exportEndpoint();
  const exporter = endpoint === undefined ? undefined : await otlpExporter(protocol());
  const warn = (message: string, ...args: unknown[]): void => {
    const [first] = args;
    logger.warn(first instanceof Error ? { err: first } : { details: args }, `tracing: ${message}`);
  };
  diag.setLogger(
    {
      error: warn,
      warn,
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const provider = new NodeTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ 'service.name': 'orderflow', ...options.resource }))
      .merge(detectResources({ detectors: [envDetector] })),
    // Exporting: the sampler `OTEL_TRACES_SAMPLER` names (parent-based always-on). Not
    // exporting: no span records anything, yet each gets its ids (for the log lines) at
    // the cost of little more than those ids.
    ...(exporter === undefined
      ? { sampler: new AlwaysOffSampler() }
      : { spanProcessors: [new BatchSpanProcessor(exporter)] }),
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  if (endpoint !== undefined) logger.info({ endpoint }, 'exporting traces over OTLP/HTTP');
  let stopped: Promise<void> | undefined;
  started = {
    endpoint,
    shutdown: () => (stopped ??= stop(provider, logger)),
  };
  return started;
}

/** Exports what is pending, within the deadline; never fails (the spans are what is lost). */
async function stop(provider: NodeTracerProvider, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), SHUTDOWN_DEADLINE_MS);
  });
  try {
    const outcome = await Promise.race([provider.shutdown().then(() => 'done' as const), late]);
    if (outcome === 'late') {
      logger.warn(
        { deadlineMs: SHUTDOWN_DEADLINE_MS },
        'tracing: spans not exported by the deadline were dropped',
      );
    }
  } catch (error) {
    logger.warn({ err: error }, 'tracing: the last spans could not be exported');
  } finally {
    clearTimeout(timer);
  }
}

/** An empty variable counts as unset. */
function setting(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function exportEndpoint(): string | undefined {
  const exporters = setting('OTEL_TRACES_EXPORTER') ?? 'otlp';
  if (exporters === 'none') return undefined;
  if (exporters !== 'otlp') {
    throw new ConfigError(`OTEL_TRACES_EXPORTER must be otlp or none, not ${exporters}`);
  }
  return setting('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? setting('OTEL_EXPORTER_OTLP_ENDPOINT');
}

function protocol(): Protocol {
  const given =
    setting('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    setting('OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf';
  const known = PROTOCOLS.find((candidate) => candidate === given);
  if (known === undefined) {
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be ${PROTOCOLS.join(' or ')}, not ${given}`,
    );
  }
  return known;
}

/** The exporter reads its endpoint, headers, timeout and compression from `OTEL_*` itself. */
async function otlpExporter(protocol: Protocol): Promise<SpanExporter> {
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter();
}

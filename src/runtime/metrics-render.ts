import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, type Registry } from 'prom-client';

/** `/metrics` as it is answered. */
export interface MetricsText {
  readonly contentType: string;
  readonly text: string;
}

/** A registry's metric families as `registry.getMetricsAsJSON()` gives them. */
export type MetricFamilies = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * Another process whose metrics this process's `/metrics` includes: the embedded
 * pipeline process, which serves no HTTP of its own. `read` settles within its own bound
 * (a stuck process is a rejection, never a hung scrape).
 */
export interface MetricsPeer {
  /** Names it in logs and in `orderflow_peer_metrics_failures_total{process}`. */
  readonly name: string;
  read(): Promise<MetricFamilies>;
}

/**
 * Renders this process's registry, merged with its peers' (as prom-client's cluster mode
 * does: counters and histograms summed, each default metric by its own aggregator). A
 * peer counts only what it counts itself — the gauges read from the shared stores are
 * left to this process (`CollectorOptions.fromStores`), so nothing is doubled. A family
 * that cannot be combined (a process's start time) keeps this process's value. A peer
 * that fails or does not answer in time is left out of that scrape, logged and counted.
 */
export function metricsRenderer(
  registry: Registry,
  peers: readonly MetricsPeer[],
  logger: Pick<Logger, 'warn'>,
): () => Promise<MetricsText> {
  const contentType = registry.contentType;
  if (peers.length === 0) return async () => ({ contentType, text: await registry.metrics() });
  const failures = new Counter({
    name: 'orderflow_peer_metrics_failures_total',
    help: "Scrapes that went without a peer process's metrics (the embedded pipeline's): it failed or did not answer in time.",
    labelNames: ['process'],
    registers: [registry],
  });
  for (const peer of peers) failures.inc({ process: peer.name }, 0);
  const readPeer = (peer: MetricsPeer): Promise<MetricFamilies | undefined> =>
    peer.read().catch((error: unknown) => {
      failures.inc({ process: peer.name });
      logger.warn({ process: peer.name, err: error }, "a peer process's metrics are left out");
      return undefined;
    });
  return async () => {
    // The peers first, so that a failure is counted in this very scrape.
    const theirs = await Promise.all(peers.map(readPeer));
    const own = await registry.getMetricsAsJSON();
    const text = await AggregatorRegistry.aggregate([
      own.map((family) =>
        family.aggregator === 'omit' ? { ...family, aggregator: 'first' as const } : family,
      ),
      ...theirs.flatMap((families) =>
        families ? [families.filter((family) => family.aggregator !== 'omit')] : [],
      ),
    ]).metrics();
    return { contentType, text };
  };
}

/**
 * The shipped alerting rules (ops/prometheus/alerts.yml) and the Grafana dashboard
 * (ops/grafana/*.json) read only metrics that a running service exposes: each metric name
 * in each expression has samples in a live `/metrics` scrape, with the labels the
 * expression matches on. The service runs against a Stripe-compatible provider, so the
 * payment circuit breaker exists and reports.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminal, orderBody, type OrderView } from '../helpers/api.js';
import type { FakeStripe } from '../helpers/fake-stripe.js';
import { startWithFakeStripe } from './with-fake-stripe.js';
import type { InProcessService } from '../helpers/in-process.js';
import { waitFor } from '../helpers/wait.js';
import { metricNamesOf, selectorsOf } from './promql.js';
import { parsePrometheusText, type Scrape } from './prometheus-text.js';

const OPS = fileURLToPath(new URL('../../ops/', import.meta.url));
const DURATION = /^(\d+(ms|[smhdwy]))+$/;

const Rule = z.strictObject({
  alert: z.string().regex(/^[A-Z][A-Za-z0-9]+$/),
  expr: z.string().min(1),
  for: z.string().regex(DURATION).optional(),
  labels: z.strictObject({ severity: z.enum(['info', 'warning', 'critical']) }),
  annotations: z.strictObject({
    summary: z.string().min(1),
    description: z.string().min(1),
  }),
});
const RuleFile = z.strictObject({
  groups: z.array(z.strictObject({ name: z.string().min(1), rules: z.array(Rule).min(1) })).min(1),
});
type AlertRule = z.infer<typeof Rule>;

const Target = z.looseObject({ refId: z.string(), expr: z.string().min(1) });
const Dashboard = z.looseObject({
  title: z.string().min(1),
  uid: z.string().min(1),
  panels: z.array(
    z.looseObject({
      type: z.string(),
      title: z.string(),
      targets: z.array(Target).optional(),
    }),
  ),
});

async function alertRules(): Promise<AlertRule[]> {
  const text = await readFile(`${OPS}prometheus/alerts.yml`, 'utf8');
  const file = RuleFile.parse(parse(text, { strict: true, uniqueKeys: true }));
  return file.groups.flatMap((group) => group.rules);
}

async function dashboardExprs(): Promise<{ where: string; expr: string }[]> {
  const dir = `${OPS}grafana/`;
  const files = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  const exprs: { where: string; expr: string }[] = [];
  for (const file of files) {
    const dashboard = Dashboard.parse(JSON.parse(await readFile(dir + file, 'utf8')));
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        exprs.push({ where: `${file}: ${panel.title} (${target.refId})`, expr: target.expr });
      }
    }
  }
  return exprs;
}

describe('the PromQL name extraction', () => {
  it('finds metric names and matched labels, not functions, keywords or label lists', () => {
    const expr =
      'sum by (group) (rate(a_total{x="1",y=~"b|c"}[5m] offset 1h)) / on(group) group_left ' +
      'max without (le) (b_bucket) > 0.5 and time() - c_seconds unless count(d) by (z) > bool 1e3';
    expect(metricNamesOf(expr)).toEqual(['a_total', 'b_bucket', 'c_seconds', 'd']);
    expect(selectorsOf(expr)[0]).toEqual({ metric: 'a_total', labels: ['x', 'y'] });
  });

  it('refuses what it does not know', () => {
    expect(() => metricNamesOf('rat(a_total[5m])')).toThrow(/unknown function rat/);
    expect(() => metricNamesOf('{job="x"}')).toThrow(/without a metric name/);
  });
});

describe('alerting rules and dashboard against a live /metrics', () => {
  let fake: FakeStripe;
  let service: InProcessService;
  let scraped: Scrape;

  beforeAll(async () => {
    ({ fake, service } = await startWithFakeStripe());
    const placed = await service.request<{ orderId: string }>('POST', '/v1/orders', {
      body: orderBody(),
    });
    expect(placed.status).toBe(202);
    await waitFor(
      async () => {
        const { json } = await service.request<OrderView>(
          'GET',
          `/v1/orders/${placed.json.orderId}`,
        );
        return isTerminal(json.status) ? json : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'the order to end' },
    );
    // Scraped once the order ended and a sync-out run has been counted too.
    scraped = await waitFor(
      async () => {
        const response = await service.request('GET', '/metrics', { key: 'none' });
        expect(response.status).toBe(200);
        const scrape = parsePrometheusText(response.text);
        const synced = scrape.find('orderflow_schedule_runs_total', { schedule: 'sync-out' });
        return synced.some((sample) => sample.value > 0) ? scrape : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'a sync-out run' },
    );
  });
  afterAll(async () => {
    await service?.close();
    await fake?.stop();
  });

  /** Why `expr` does not fit the scrape; empty when every metric and label is there. */
  const misfits = (expr: string): string[] => {
    const problems: string[] = [];
    for (const { metric, labels } of selectorsOf(expr)) {
      const samples = scraped.find(metric);
      if (samples.length === 0) {
        problems.push(`${metric}: no sample in /metrics`);
        continue;
      }
      for (const label of labels) {
        if (!samples.some((sample) => Object.hasOwn(sample.labels, label))) {
          problems.push(`${metric}: no sample has label ${label}`);
        }
      }
    }
    return problems;
  };

  it('ships the rules the issue asks for, each reading metrics that exist', async () => {
    const rules = await alertRules();
    const names = rules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    const reads = (metric: string): string[] =>
      rules.filter((rule) => metricNamesOf(rule.expr).includes(metric)).map((rule) => rule.alert);
    // DLQ not empty, lag growing, sync stale, intake error rate, p99 over budget, breaker open.
    expect(reads('orderflow_consumer_dead_letters')).not.toEqual([]);
    expect(reads('orderflow_consumer_dead_letter_limit')).not.toEqual([]);
    expect(reads('orderflow_consumer_lag')).not.toEqual([]);
    expect(reads('orderflow_sync_last_success_timestamp_seconds')).not.toEqual([]);
    expect(reads('orderflow_http_request_duration_seconds_count')).not.toEqual([]);
    expect(reads('orderflow_http_request_duration_seconds_bucket')).not.toEqual([]);
    expect(reads('orderflow_circuit_breaker_state')).not.toEqual([]);

    for (const rule of rules) {
      expect(metricNamesOf(rule.expr).length, rule.alert).toBeGreaterThan(0);
      expect(misfits(rule.expr), rule.alert).toEqual([]);
    }
  });

  it('has a dashboard whose every panel query reads metrics that exist', async () => {
    const exprs = await dashboardExprs();
    expect(exprs.length).toBeGreaterThan(10);
    for (const { where, expr } of exprs) {
      expect(metricNamesOf(expr).length, where).toBeGreaterThan(0);
      expect(misfits(expr), where).toEqual([]);
    }
  });
});

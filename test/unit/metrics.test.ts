import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeClass, createMetrics, hashValue, methodLabel, routeHost, upstreamCause } from '../../src/dashboard/metrics.ts';
import type { Metrics } from '../../src/dashboard/metrics.ts';
import type { RequestRecord } from '../../src/drivers/types.ts';
import { noTelemetry } from '../../src/shared/telemetry.ts';

/** The value of one series, from the registry (no text parsing). */
async function value(m: Metrics, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number | undefined> {
  // A histogram's series (`_bucket`, `_sum`, `_count`) belong to the metric without the suffix.
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const metric = m.registry.getSingleMetric(name) ?? m.registry.getSingleMetric(base);
  assert.ok(metric, `metric ${name} is registered`);
  const got = await metric.get();
  const hit = got.values.find((v) => {
    const series = (v as { metricName?: string }).metricName;
    if (series !== undefined && series !== name) return false;
    const l = v.labels as Record<string, string | number | undefined>;
    // A histogram's bucket series carry `le`; the caller names it when it wants one.
    return Object.entries(labels).every(([k, want]) => String(l[k]) === want) && (labels['le'] !== undefined || l['le'] === undefined);
  });
  return hit?.value;
}

function record(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    time: new Date(0),
    entryPoint: 'http',
    client: '127.0.0.1:5000',
    method: 'GET',
    host: 'a.example.com',
    path: '/api/x',
    status: 200,
    bytes: 12,
    durationMs: 30,
    route: 'a.example.com /api Prefix',
    backend: 'default/api:80',
    upstream: '127.0.0.1:9101',
    ...over,
  };
}

const metrics = (now = 1_700_000_000_000): Metrics => createMetrics({ mode: 'native', version: '0.1.0', processMetrics: false, now: () => now });

test('label helpers bound what a client can put in a label', () => {
  assert.equal(codeClass(204), '2xx');
  assert.equal(codeClass(502), '5xx');
  assert.equal(codeClass(0), 'none');
  assert.equal(methodLabel('get'), 'GET');
  assert.equal(methodLabel('BREW'), 'other');
  assert.equal(routeHost('a.example.com /api Prefix'), 'a.example.com');
  assert.equal(routeHost('*.example.com / Prefix'), '*.example.com');
  assert.equal(routeHost('default/fallback:80'), '');
  assert.equal(routeHost(undefined), '');
  assert.equal(upstreamCause('connect ECONNREFUSED 127.0.0.1:1'), 'refused');
  assert.equal(upstreamCause('upstream timed out'), 'timeout');
  assert.equal(upstreamCause('socket hang up'), 'reset');
  assert.equal(upstreamCause('no ready endpoint'), 'unavailable');
  assert.equal(upstreamCause('something else'), 'other');
  assert.equal(hashValue('00000000000ff'), 255);
  assert.ok(Number.isSafeInteger(hashValue('ffffffffffffffffffffffff')));
});

test('noTelemetry accepts every hook and records nothing', () => {
  noTelemetry.applyFinished({ ok: true, durationMs: 1, hash: 'ab', via: 'swap' });
  noTelemetry.diagnostics({ error: 1, warning: 2 });
  noTelemetry.watch('relist', 'Ingress');
  noTelemetry.leader(true);
  noTelemetry.acmeOrder('failed');
});

test('applies: success and failure counted, last apply time, duration and hash set by successes only', async () => {
  const m = metrics(1_700_000_000_000);
  assert.equal(await value(m, 'passerelle_config_applies_total', { result: 'success' }), 0);
  m.applyFinished({ ok: true, durationMs: 250, hash: '0000000000010abcdef', via: 'reload' });
  m.applyFinished({ ok: false, durationMs: 5 });
  m.applyFinished({ ok: true, durationMs: 9, hash: '0000000000010abcdef', via: 'unchanged' });
  assert.equal(await value(m, 'passerelle_config_applies_total', { result: 'success' }), 1);
  assert.equal(await value(m, 'passerelle_config_applies_total', { result: 'failure' }), 1);
  assert.equal(await value(m, 'passerelle_config_last_apply_success'), 0);
  assert.equal(await value(m, 'passerelle_config_last_apply_timestamp_seconds'), 1_700_000_000);
  assert.equal(await value(m, 'passerelle_config_last_apply_duration_seconds'), 0.25);
  assert.equal(await value(m, 'passerelle_config_hash'), 0x0000000000010);
  assert.equal(await value(m, 'passerelle_config_updates_total', { via: 'reload' }), 1);
  assert.equal(await value(m, 'passerelle_config_updates_total', { via: 'runtime' }), 0);
  assert.equal(await value(m, 'passerelle_config_updates_total', { via: 'unchanged' }), 1);
  m.applyFinished({ ok: true, durationMs: 1, hash: 'ff', via: 'runtime' });
  assert.equal(await value(m, 'passerelle_config_last_apply_success'), 1);
  assert.equal(await value(m, 'passerelle_config_updates_total', { via: 'runtime' }), 1);
});

test('diagnostics, watches, leadership and ACME orders', async () => {
  const m = metrics();
  m.diagnostics({ error: 2, warning: 5 });
  m.diagnostics({ error: 1, warning: 0 });
  assert.equal(await value(m, 'passerelle_diagnostics', { severity: 'error' }), 1);
  assert.equal(await value(m, 'passerelle_diagnostics', { severity: 'warning' }), 0);
  m.watch('relist', 'Ingress');
  m.watch('error', 'Ingress');
  m.watch('error', 'Ingress');
  m.watch('error', 'Service');
  assert.equal(await value(m, 'passerelle_kubernetes_watch_relists_total', { resource: 'Ingress' }), 1);
  assert.equal(await value(m, 'passerelle_kubernetes_watch_errors_total', { resource: 'Ingress' }), 2);
  assert.equal(await value(m, 'passerelle_kubernetes_watch_errors_total', { resource: 'Service' }), 1);
  assert.equal(await value(m, 'passerelle_leader'), 0);
  m.leader(true);
  assert.equal(await value(m, 'passerelle_leader'), 1);
  m.acmeOrder('issued');
  m.acmeOrder('failed');
  m.acmeOrder('failed');
  assert.equal(await value(m, 'passerelle_acme_orders_total', { result: 'issued' }), 1);
  assert.equal(await value(m, 'passerelle_acme_orders_total', { result: 'renewed' }), 0);
  assert.equal(await value(m, 'passerelle_acme_orders_total', { result: 'failed' }), 2);
});

test('certificate expiry and ACME budget are read at scrape time', async () => {
  const now = Date.UTC(2030, 0, 1);
  let certs = [{ id: 'default/tls', source: 'Secret', notAfter: new Date(now + 86_400_000) }];
  const m = createMetrics({ mode: 'haproxy', processMetrics: false, now: () => now, certificates: () => certs, acmeBudget: () => [{ registeredDomain: 'example.com', remaining: 47 }] });
  assert.equal(await value(m, 'passerelle_certificate_expiry_timestamp_seconds', { certificate: 'default/tls', source: 'Secret' }), (now + 86_400_000) / 1000);
  assert.equal(await value(m, 'passerelle_certificate_expiry_seconds', { certificate: 'default/tls' }), 86_400);
  assert.equal(await value(m, 'passerelle_acme_budget_remaining', { registered_domain: 'example.com' }), 47);
  // A certificate that is no longer served disappears from the next scrape.
  certs = [];
  assert.equal(await value(m, 'passerelle_certificate_expiry_seconds', { certificate: 'default/tls' }), undefined);
});

test('traffic: requests by route, status class and method; latency histogram; upstream errors', async () => {
  const m = metrics();
  m.observe(record());
  m.observe(record({ durationMs: 700 }));
  const { route: _route, backend: _backend, ...unrouted } = record({ method: 'weird', status: 404, host: 'attacker.example' });
  m.observe(unrouted);
  m.observe(record({ status: 502, error: 'connect ECONNREFUSED 127.0.0.1:9101', durationMs: 2 }));
  const route = 'a.example.com /api Prefix';
  assert.equal(await value(m, 'passerelle_requests_total', { entrypoint: 'http', host: 'a.example.com', route, code_class: '2xx', method: 'GET' }), 2);
  assert.equal(await value(m, 'passerelle_requests_total', { route, code_class: '5xx' }), 1);
  // An unmatched request counts under the empty route, never under the Host it sent.
  assert.equal(await value(m, 'passerelle_requests_total', { host: '', route: '', code_class: '4xx', method: 'other' }), 1);
  assert.equal(await value(m, 'passerelle_request_duration_seconds_count', { entrypoint: 'http', route }), 3);
  assert.equal(await value(m, 'passerelle_request_duration_seconds_sum', { route }), 0.732);
  assert.equal(await value(m, 'passerelle_request_duration_seconds_bucket', { route, le: '0.05' }), 2);
  assert.equal(await value(m, 'passerelle_request_duration_seconds_bucket', { route, le: '1' }), 3);
  assert.equal(await value(m, 'passerelle_upstream_errors_total', { route, backend: 'default/api:80', cause: 'refused' }), 1);
});

test('renderMetrics gives the text exposition with its content type', async () => {
  const m = createMetrics({ mode: 'nginx', version: '1.2.3' });
  m.observe(record());
  const { contentType, body } = await m.renderMetrics();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(body, /^passerelle_build_info\{version="1\.2\.3",mode="nginx"\} 1$/m);
  assert.match(body, /^passerelle_requests_total\{entrypoint="http",host="a\.example\.com",route="a\.example\.com \/api Prefix",code_class="2xx",method="GET"\} 1$/m);
  assert.match(body, /^process_cpu_user_seconds_total /m);
});

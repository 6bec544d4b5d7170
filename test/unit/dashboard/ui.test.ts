// The dashboard's pure browser helpers (src/dashboard/ui/metrics.js, format.js), run in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface RouteCounters {
  route: string;
  host: string;
  requests: number;
  errors: number;
  clientErrors: number;
}
interface RouteRates {
  route: string;
  host: string;
  requests: number;
  errors: number;
  requestRate: number;
  errorRate: number;
}
interface MetricsModule {
  parsePrometheus(text: string): Sample[];
  statusClass(labels: Record<string, string>): string;
  countersByRoute(samples: readonly Sample[], metric?: string): Map<string, RouteCounters>;
  ratesBetween(previous: Map<string, RouteCounters> | undefined, current: Map<string, RouteCounters>, seconds: number): RouteRates[];
}
interface FormatModule {
  duration(ms: number): string;
  relative(when: string | number | Date, now: number): string;
  expiry(notAfter: string | undefined, now: number): { text: string; level: string; days: number };
  rate(perSecond: number): string;
  utc(when: string | number | Date | undefined): string;
}

// Browser modules (plain JS, typed by JSDoc and checked by src/dashboard/ui/tsconfig.json): loaded
// by URL so that this file's program does not take them in.
const ui = new URL('../../../src/dashboard/ui/', import.meta.url);
const metrics = (await import(new URL('metrics.js', ui).href)) as MetricsModule;
const format = (await import(new URL('format.js', ui).href)) as FormatModule;

const EXPOSITION = `# HELP passerelle_requests_total Requests answered.
# TYPE passerelle_requests_total counter
passerelle_requests_total{entrypoint="web",host="whoami.localhost",route="whoami.localhost / Prefix",code_class="2xx",method="GET"} 10
passerelle_requests_total{entrypoint="web",host="whoami.localhost",route="whoami.localhost / Prefix",code_class="5xx",method="GET"} 2
passerelle_requests_total{entrypoint="web",host="odd.localhost",route="odd \\"quoted\\" \\\\ route",code_class="4xx",method="POST"} 3
passerelle_requests_total{entrypoint="web",host="",route="",code_class="4xx",method="GET"} 7
passerelle_request_duration_seconds_bucket{entrypoint="web",route="x",le="+Inf"} 12
process_start_time_seconds 1700000000 1700000000000
garbage line {
`;

test('parsePrometheus reads names, escaped label values, +Inf and timestamps, and skips what does not parse', () => {
  const s = metrics.parsePrometheus(EXPOSITION);
  assert.equal(s.length, 6);
  assert.equal(s[2]?.labels['route'], 'odd "quoted" \\ route');
  assert.equal(s[4]?.labels['le'], '+Inf');
  assert.deepEqual(s[5], { name: 'process_start_time_seconds', labels: {}, value: 1700000000 });
});

test('countersByRoute sums per route, counts 5xx as errors, and names unrouted requests by entry point', () => {
  const c = metrics.countersByRoute(metrics.parsePrometheus(EXPOSITION));
  assert.deepEqual(c.get('whoami.localhost / Prefix'), { route: 'whoami.localhost / Prefix', host: 'whoami.localhost', requests: 12, errors: 2, clientErrors: 0 });
  assert.equal(c.get('odd "quoted" \\ route')?.clientErrors, 3);
  assert.equal(c.get('web')?.requests, 7);
  assert.equal(metrics.statusClass({ code: '503' }), '5');
  assert.equal(metrics.statusClass({ method: 'GET' }), '');
});

test('ratesBetween: per-second deltas, zero on the first poll, a reset counter counts from zero', () => {
  const at = (requests: number, errors: number): Map<string, RouteCounters> => new Map([['r', { route: 'r', host: 'h', requests, errors, clientErrors: 0 }]]);
  assert.equal(metrics.ratesBetween(undefined, at(10, 1), 2)[0]?.requestRate, 0);
  const r = metrics.ratesBetween(at(10, 1), at(30, 5), 2)[0];
  assert.equal(r?.requestRate, 10);
  assert.equal(r?.errorRate, 2);
  assert.equal(metrics.ratesBetween(at(100, 0), at(4, 0), 2)[0]?.requestRate, 2);
});

test('format: durations, countdowns with levels, rates, UTC dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(format.duration(45_000), '45 s');
  assert.equal(format.duration(3 * 86_400_000 + 4 * 3_600_000), '3 d 4 h');
  assert.equal(format.relative(now - 5 * 60_000, now), '5 min ago');
  assert.deepEqual(format.expiry('2026-01-05T00:00:00Z', now), { text: 'expires in 4 d', level: 'urgent', days: 4 });
  assert.equal(format.expiry('2026-01-20T00:00:00Z', now).level, 'soon');
  assert.equal(format.expiry('2027-01-01T00:00:00Z', now).level, 'ok');
  assert.equal(format.expiry('2025-12-30T00:00:00Z', now).text, 'expired 2 d ago');
  assert.equal(format.expiry(undefined, now).level, 'unknown');
  assert.equal(format.rate(0), '0/s');
  assert.equal(format.rate(0.25), '0.25/s');
  assert.equal(format.rate(12.4), '12/s');
  assert.equal(format.rate(1500), '1.5k/s');
  assert.equal(format.utc('2036-11-23T08:16:06Z'), '2036-11-23 08:16 UTC');
});

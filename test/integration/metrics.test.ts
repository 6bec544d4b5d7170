/*
 * /metrics end to end, in native, haproxy and nginx modes: `run --web` (in process) on a folder of
 * objects whose backends are echo servers (and one dead endpoint); traffic through the proxy moves
 * the request counter and the latency histogram of the right route, a dead backend counts as an
 * upstream error, the controller's metrics show the apply, and `promtool check metrics` (Debian's
 * `prometheus` package) accepts the exposition.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startController } from '../../src/cli/run.ts';
import type { RunningController } from '../../src/cli/run.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { freePort, request, startEcho } from '../behaviour/harness.ts';
import { proxyWorkDir } from '../workdir.ts';

/** One sample of the text exposition. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(body: string): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function sum(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

function objects(api: number, site: number, dead: number): string {
  const service = (name: string, port: number): string => `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: demo }
spec:
  ports: [{ name: http, port: 80, targetPort: ${port} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: demo, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${port} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`;
  return `---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: passerelle
  annotations: { ingressclass.kubernetes.io/is-default-class: "true" }
spec: { controller: passerelle.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop, namespace: demo }
spec:
  rules:
    - host: shop.test
      http:
        paths:
          - { path: /api, pathType: Prefix, backend: { service: { name: api, port: { number: 80 } } } }
          - { path: /, pathType: Prefix, backend: { service: { name: site, port: { number: 80 } } } }
    - host: dead.test
      http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: dead, port: { number: 80 } } } }
${service('api', api)}${service('site', site)}${service('dead', dead)}`;
}

const API_ROUTE = 'shop.test /api Prefix';
const SITE_ROUTE = 'shop.test / Prefix';
const DEAD_ROUTE = 'dead.test / Prefix';

for (const mode of ['native', 'haproxy', 'nginx'] as const) {
  test(`metrics (${mode}): traffic moves the counter and histogram of its route; promtool accepts /metrics`, async (t) => {
    const dir = proxyWorkDir(`passerelle-metrics-${mode}-`);
    const [api, site] = await Promise.all([startEcho('api', '127.0.0.1'), startEcho('site', '127.0.0.1')]);
    const started: { running?: RunningController } = {};
    // One hook, in order: the proxy stops before its work directory goes.
    t.after(async () => {
      await started.running?.stop();
      await Promise.all([api.close(), site.close()]);
      rmSync(dir, { recursive: true, force: true });
    });
    const [entry, webPort, deadPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(path.join(dir, 'objects.yaml'), objects(api.port, site.port, deadPort));
    const file = path.join(dir, 'passerelle.toml');
    writeFileSync(
      file,
      `[entryPoints.web]
address = "127.0.0.1:${entry}"

[proxy]
mode = "${mode}"
workDir = ${JSON.stringify(path.join(dir, 'work'))}
gracePeriod = "1s"

[file]
directory = ${JSON.stringify(dir)}
watch = false

[web]
address = "127.0.0.1:${webPort}"
`,
    );
    const running = await startController(parseFlags(['run', '--web', `--configfile=${file}`]), process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger);
    started.running = running;
    assert.equal(running.controller.state.lastError, undefined);

    for (let i = 0; i < 3; i++) assert.equal((await request({ port: entry, host: 'shop.test', path: `/api/items/${i}` })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await request({ port: entry, host: 'shop.test', path: '/', method: 'POST', body: 'x' })).status, 200);
    assert.equal((await request({ port: entry, host: 'dead.test', path: '/' })).status, 502);
    assert.equal((await request({ port: entry, host: 'nowhere.test', path: '/' })).status, 404);

    // haproxy/nginx report requests from their log lines (syslog over UDP): they arrive a moment later.
    let samples: Sample[] = [];
    let body = '';
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${webPort}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      body = await res.text();
      samples = parseExposition(body);
      if (sum(samples, 'passerelle_requests_total') >= 7 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    // Traffic: each route counts its own requests, by status class and method.
    assert.equal(sum(samples, 'passerelle_requests_total', { route: API_ROUTE, host: 'shop.test', code_class: '2xx', method: 'GET' }), 3, body);
    assert.equal(sum(samples, 'passerelle_requests_total', { route: API_ROUTE }), 3);
    assert.equal(sum(samples, 'passerelle_requests_total', { route: SITE_ROUTE, code_class: '2xx', method: 'POST' }), 2);
    assert.equal(sum(samples, 'passerelle_requests_total', { route: DEAD_ROUTE, code_class: '5xx' }), 1);
    assert.equal(sum(samples, 'passerelle_requests_total', { route: '', code_class: '4xx' }), 1);
    assert.equal(sum(samples, 'passerelle_request_duration_seconds_count', { route: API_ROUTE }), 3);
    assert.equal(sum(samples, 'passerelle_request_duration_seconds_bucket', { route: API_ROUTE, le: '+Inf' }), 3);
    assert.equal(sum(samples, 'passerelle_request_duration_seconds_count', { route: SITE_ROUTE }), 2);
    // HAProxy and nginx log durations in whole milliseconds: a fast loopback request may take 0 ms there.
    const durations = sum(samples, 'passerelle_request_duration_seconds_sum', { route: API_ROUTE });
    assert.ok(mode === 'native' ? durations > 0 : durations >= 0 && Number.isFinite(durations), `duration sum ${durations}`);
    assert.equal(sum(samples, 'passerelle_upstream_errors_total', { route: DEAD_ROUTE, backend: 'demo/dead:80' }), 1, body);

    // The controller: one successful apply, by the mode's way, with its hash.
    assert.equal(sum(samples, 'passerelle_build_info', { mode }), 1);
    assert.ok(sum(samples, 'passerelle_config_applies_total', { result: 'success' }) >= 1);
    assert.equal(sum(samples, 'passerelle_config_applies_total', { result: 'failure' }), 0);
    assert.equal(sum(samples, 'passerelle_config_last_apply_success'), 1);
    assert.ok(sum(samples, 'passerelle_config_updates_total', { via: mode === 'native' ? 'swap' : 'reload' }) >= 1);
    assert.ok(sum(samples, 'passerelle_config_hash') > 0);
    assert.ok(Math.abs(sum(samples, 'passerelle_config_last_apply_timestamp_seconds') - Date.now() / 1000) < 120);
    assert.equal(sum(samples, 'passerelle_leader'), 1);

    // promtool: the exposition parses and follows the naming conventions (its lint prints nothing).
    const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(check.error, undefined, 'promtool is installed (Debian package prometheus; scripts/setup-test-deps.sh)');
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '');
  });
}

/*
 * HTTPRoute matches and filters end to end through the file source and the real controller (as
 * `passerelle run`), with real HTTP requests: method, header (exact and regex) and query matches with
 * fallthrough to the next route, RequestHeaderModifier set/add/remove as the backend sees them,
 * ResponseHeaderModifier set/add/remove as the client sees them, a Gateway API wildcard hostname
 * matching several labels, and three weighted backendRefs. In the three modes; where a mode does not
 * render header add/remove or a split of more than two backends (FEATURE_MODES), translate drops them
 * (the split keeps its first two backends, with a diagnostic) and the expectations follow.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { rmSync } from 'node:fs';
import { startController } from '../../src/cli/run.ts';
import type { RunningController } from '../../src/cli/run.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { FEATURE_MODES } from '../../src/model/policy-support.ts';
import type { PolicyFeature } from '../../src/model/policy-support.ts';
import { echoOf, freePort, request, startEcho } from '../behaviour/harness.ts';
import { gatewayFolder, serviceYaml } from './gateway-env.ts';

function gatewayObjects(entry: number): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: passerelle }
spec: { controllerName: passerelle.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: demo }
spec:
  gatewayClassName: passerelle
  listeners:
    - { name: http, protocol: HTTP, port: ${entry} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: matches, namespace: demo }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [match.test]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /r }, headers: [{ name: Version, value: one }] }]
      backendRefs: [{ name: v1, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /r }, method: POST }]
      backendRefs: [{ name: v2, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /r } }]
      backendRefs: [{ name: v3, port: 80 }]
    - matches:
        - { path: { type: PathPrefix, value: /q }, queryParams: [{ name: animal, value: whale }] }
        - { path: { type: PathPrefix, value: /q }, queryParams: [{ name: id, type: RegularExpression, value: "[0-9]+" }] }
      backendRefs: [{ name: v1, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /q }, headers: [{ name: x-build, type: RegularExpression, value: "v[0-9]+|beta" }] }]
      backendRefs: [{ name: v2, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: modifiers, namespace: demo }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [mod.test]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /request } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: X-Header-Set, value: set-overwrites-values }]
            add: [{ name: X-Header-Add, value: add-appends-values }]
            remove: [X-Header-Remove]
      backendRefs: [{ name: v1, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /response } }]
      filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier:
            set: [{ name: X-Header-Set, value: set-overwrites-values }]
            add: [{ name: X-Header-Add, value: add-appends-values }]
            remove: [X-Header-Remove]
      backendRefs: [{ name: answers, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: wild, namespace: demo }
spec:
  parentRefs: [{ name: edge }]
  hostnames: ["*.wild.test"]
  rules:
    - backendRefs: [{ name: v2, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: split, namespace: demo }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [split.test]
  rules:
    - backendRefs: [{ name: v1, port: 80, weight: 2 }, { name: v2, port: 80, weight: 1 }, { name: v3, port: 80, weight: 1 }]
`;
}

/** A backend that answers with the response headers a request asks for (`x-echo-set-header: name:value,...`), as echo-basic. */
function startAnswers(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const headers: [string, string][] = [];
    const ask = req.headers['x-echo-set-header'];
    for (const part of (typeof ask === 'string' ? ask : '').split(',')) {
      const colon = part.indexOf(':');
      if (colon > 0) headers.push([part.slice(0, colon).trim(), part.slice(colon + 1).trim()]);
    }
    res.writeHead(200, [...headers.flat(), 'content-type', 'text/plain']);
    res.end('answers\n');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ port: typeof address === 'object' && address !== null ? address.port : 0, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

for (const mode of ['native', 'haproxy', 'nginx'] as const) {
  const renders = (feature: PolicyFeature): boolean => (FEATURE_MODES[feature] as readonly string[]).includes(mode);
  test(`HTTPRoute matches and filters (${mode}): method, header and query matches with fallthrough, header modifiers, a wildcard over several labels, three weighted backends`, async (t) => {
    const [v1, v2, v3, answers] = await Promise.all([startEcho('v1', '127.0.0.1'), startEcho('v2', '127.0.0.1'), startEcho('v3', '127.0.0.1'), startAnswers()]);
    const started: { running?: RunningController } = {};
    const folder: { dir?: string } = {};
    t.after(async () => {
      await started.running?.stop();
      await Promise.all([v1.close(), v2.close(), v3.close(), answers.close()]);
      if (folder.dir !== undefined) rmSync(folder.dir, { recursive: true, force: true });
    });
    const entry = await freePort();
    const { dir, configFile: file } = gatewayFolder({ prefix: `passerelle-gateway-matches-${mode}-`, mode, entry, services: serviceYaml('v1', v1.port) + serviceYaml('v2', v2.port) + serviceYaml('v3', v3.port) + serviceYaml('answers', answers.port), gateway: gatewayObjects(entry) });
    folder.dir = dir;
    const running = await startController(parseFlags(['run', `--configfile=${file}`]), process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger);
    started.running = running;
    assert.equal(running.controller.state.lastError, undefined);
    const errors = running.controller.state.model?.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.field ?? ''}`);
    assert.deepEqual(errors, renders('split') ? [] : ['PASS_GATEWAY_WEIGHTS_NOT_SUPPORTED spec.rules[0].backendRefs']);

    const who = async (o: { path: string; host?: string; method?: string; headers?: Record<string, string> }): Promise<string> => {
      const reply = await request({ port: entry, host: o.host ?? 'match.test', path: o.path, ...(o.method === undefined ? {} : { method: o.method }), ...(o.headers === undefined ? {} : { headers: o.headers }) });
      return reply.status === 200 ? echoOf(reply).id : String(reply.status);
    };
    // A method match outranks a header match on the same path; a request failing both falls through to the plain route.
    assert.equal(await who({ path: '/r', headers: { version: 'one' } }), 'v1');
    assert.equal(await who({ path: '/r/x', method: 'POST', headers: { version: 'one' } }), 'v2');
    assert.equal(await who({ path: '/r', method: 'POST' }), 'v2');
    assert.equal(await who({ path: '/r', headers: { version: 'two' } }), 'v3');
    assert.equal(await who({ path: '/r', method: 'DELETE' }), 'v3');
    // Query matches (exact, regex on the whole value); a regex header match; no fallback path here: 404.
    assert.equal(await who({ path: '/q?animal=whale' }), 'v1');
    assert.equal(await who({ path: '/q/deep?x=1&id=42' }), 'v1');
    assert.equal(await who({ path: '/q?id=42a' }), '404');
    assert.equal(await who({ path: '/q?animal=Whale' }), '404');
    assert.equal(await who({ path: '/q', headers: { 'X-Build': 'v12' } }), 'v2');
    assert.equal(await who({ path: '/q', headers: { 'X-Build': 'v12x' } }), '404');
    assert.equal(await who({ path: '/q?animal=whale', headers: { 'X-Build': 'beta' } }), 'v2', 'a header match outranks a query match');

    // RequestHeaderModifier: set replaces, add appends a line after the client's, remove removes (names in any case).
    const seen = echoOf(await request({ port: entry, host: 'mod.test', path: '/request', headers: { 'x-header-set': 'client', 'x-header-add': 'client', 'x-header-remove': 'gone', 'another-header': 'kept' } })).headers;
    assert.equal(seen['x-header-set'], 'set-overwrites-values');
    assert.equal(seen['x-header-add'], renders('headers.requestAdd') ? 'client, add-appends-values' : 'client');
    assert.equal(seen['x-header-remove'], renders('headers.requestRemove') ? undefined : 'gone');
    assert.equal(seen['another-header'], 'kept');
    assert.equal(echoOf(await request({ port: entry, host: 'mod.test', path: '/request' })).headers['x-header-add'], renders('headers.requestAdd') ? 'add-appends-values' : undefined);

    // ResponseHeaderModifier on what the backend answers.
    const reply = await request({ port: entry, host: 'mod.test', path: '/response', headers: { 'x-echo-set-header': 'X-Header-Set:backend,X-Header-Add:backend,X-Header-Remove:backend,Another-Header:kept' } });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers['x-header-set'], 'set-overwrites-values');
    assert.equal(reply.headers['x-header-add'], renders('headers.responseAdd') ? 'backend, add-appends-values' : 'backend');
    assert.equal(reply.headers['x-header-remove'], renders('headers.responseRemove') ? undefined : 'backend');
    assert.equal(reply.headers['another-header'], 'kept');
    const plain = await request({ port: entry, host: 'mod.test', path: '/response' });
    assert.equal(plain.headers['x-header-add'], renders('headers.responseAdd') ? 'add-appends-values' : undefined);
    assert.equal(plain.headers['x-header-set'], 'set-overwrites-values');

    // A Gateway API wildcard matches one or more labels, never the bare domain.
    assert.equal(await who({ path: '/', host: 'a.wild.test' }), 'v2');
    assert.equal(await who({ path: '/', host: 'b.a.wild.test' }), 'v2');
    assert.equal(await who({ path: '/', host: 'wild.test' }), '404');

    // Three weighted backends 2:1:1: about half the requests to v1, a quarter to each other (without a split: 2:1 between the first two).
    const counts = new Map<string, number>();
    const n = 400;
    for (let i = 0; i < n; i++) {
      const id = await who({ path: `/s/${i}`, host: 'split.test' });
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const share = (id: string): number => (counts.get(id) ?? 0) / n;
    if (renders('split')) {
      assert.deepEqual([...counts.keys()].sort(), ['v1', 'v2', 'v3'], JSON.stringify([...counts]));
      assert.ok(share('v1') > 0.38 && share('v1') < 0.62, JSON.stringify([...counts]));
      assert.ok(share('v2') > 0.15 && share('v2') < 0.35 && share('v3') > 0.15 && share('v3') < 0.35, JSON.stringify([...counts]));
    } else {
      assert.deepEqual([...counts.keys()].sort(), ['v1', 'v2'], JSON.stringify([...counts]));
      assert.ok(share('v2') > 0.2 && share('v2') < 0.46, JSON.stringify([...counts]));
    }
  });
}

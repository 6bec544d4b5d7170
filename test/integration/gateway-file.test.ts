/*
 * The Gateway API through the file source, end to end, in native, haproxy and nginx modes: the real
 * controller (`startController`, as `passerelle run`) on a folder holding a GatewayClass, a Gateway and
 * HTTPRoutes whose Services are echo servers. Real HTTP requests through the proxy: an HTTPRoute's host
 * and path reach its Service, two weighted backendRefs split the requests, a RequestHeaderModifier's
 * header reaches the backend, a header match routes only the requests that carry the header, a route
 * whose parentRef names a missing Gateway is not served, and `passerelle check` prints the Gateway
 * diagnostics. test/integration/gateway-matches.test.ts covers matches and filters in depth.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startController } from '../../src/cli/run.ts';
import type { RunningController } from '../../src/cli/run.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { echoOf, freePort, request, startEcho } from '../behaviour/harness.ts';
import { gatewayFolder, serviceYaml } from './gateway-env.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The Gateway API objects: one Gateway on the `web` entry point's port, routes to app, heavy and light. */
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
metadata: { name: shop, namespace: demo }
spec:
  parentRefs: [{ name: edge }]
  hostnames: [shop.test]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /app } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{ name: X-Gateway, value: passerelle }]
      backendRefs: [{ name: app, port: 80 }]
    - matches: [{ path: { type: PathPrefix, value: /split } }]
      backendRefs:
        - { name: heavy, port: 80, weight: 3 }
        - { name: light, port: 80, weight: 1 }
    - matches: [{ path: { type: PathPrefix, value: /by-header }, headers: [{ name: X-Canary, value: "yes" }] }]
      backendRefs: [{ name: app, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: nobody, namespace: demo }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: elsewhere }]
  to: [{ group: "", kind: Service }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: orphan, namespace: demo }
spec:
  parentRefs: [{ name: missing }]
  hostnames: [orphan.test]
  rules:
    - backendRefs: [{ name: app, port: 80 }]
`;
}

for (const mode of ['native', 'haproxy', 'nginx'] as const) {
  test(`Gateway API from the file source (${mode}): host+path, weights, header set, missing parent, check`, async (t) => {
    const [app, heavy, light] = await Promise.all([startEcho('app', '127.0.0.1'), startEcho('heavy', '127.0.0.1'), startEcho('light', '127.0.0.1')]);
    const started: { running?: RunningController } = {};
    const folder: { dir?: string } = {};
    // One hook, in order: the proxy stops before its work directory goes.
    t.after(async () => {
      await started.running?.stop();
      await Promise.all([app.close(), heavy.close(), light.close()]);
      if (folder.dir !== undefined) rmSync(folder.dir, { recursive: true, force: true });
    });
    const entry = await freePort();
    const { dir, configFile: file } = gatewayFolder({ prefix: `passerelle-gateway-${mode}-`, mode, entry, services: serviceYaml('app', app.port) + serviceYaml('heavy', heavy.port) + serviceYaml('light', light.port), gateway: gatewayObjects(entry) });
    folder.dir = dir;

    // check: the Gateway diagnostics, with object and field; warnings only (the header match is routed): exit 0.
    const check = spawnSync(process.execPath, ['bin/passerelle.js', 'check', `--configfile=${file}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /warning PASS_GATEWAY_PARENT_NOT_FOUND HTTPRoute demo\/orphan spec\.parentRefs\[0\]/, check.stdout);
    assert.doesNotMatch(check.stdout, /PASS_GATEWAY_MATCH_NOT_SUPPORTED|PASS_GATEWAY_BAD_MATCH/, check.stdout);
    assert.match(check.stdout, /gateway\.yaml:\d+/, check.stdout);
    assert.doesNotMatch(check.stdout, /PASS_FILE_UNKNOWN_KIND/, check.stdout);

    const running = await startController(parseFlags(['run', `--configfile=${file}`]), process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger);
    started.running = running;
    assert.equal(running.controller.state.lastError, undefined);
    const status = running.controller.state.model?.gatewayStatus;
    assert.deepEqual(
      status?.gateways.map((g) => [g.name, g.listeners.map((l) => [l.name, l.attachedRoutes, l.entryPoint])]),
      [['edge', [['http', 1, 'web']]]],
    );

    // Host and path reach the HTTPRoute's Service, with the header its filter sets.
    const echo = echoOf(await request({ port: entry, host: 'shop.test', path: '/app/items?x=1' }));
    assert.equal(echo.id, 'app');
    assert.equal(echo.url, '/app/items?x=1');
    assert.equal(echo.headers['x-gateway'], 'passerelle');
    // The header is set, not added: a client's value is replaced.
    assert.equal(echoOf(await request({ port: entry, host: 'shop.test', path: '/app', headers: { 'x-gateway': 'client' } })).headers['x-gateway'], 'passerelle');
    // Another path of the host, another host, and the route of a missing Gateway: not served.
    assert.equal((await request({ port: entry, host: 'shop.test', path: '/other' })).status, 404);
    assert.equal((await request({ port: entry, host: 'nowhere.test', path: '/app' })).status, 404);
    assert.equal((await request({ port: entry, host: 'orphan.test', path: '/' })).status, 404);
    // A header match routes the requests that carry the header (its name in any case), and only those.
    assert.equal(echoOf(await request({ port: entry, host: 'shop.test', path: '/by-header', headers: { 'X-Canary': 'yes' } })).id, 'app');
    assert.equal((await request({ port: entry, host: 'shop.test', path: '/by-header', headers: { 'x-canary': 'no' } })).status, 404);
    assert.equal((await request({ port: entry, host: 'shop.test', path: '/by-header' })).status, 404);

    // Weights 3:1: about a quarter of the requests go to light.
    const counts = new Map<string, number>();
    const n = 200;
    for (let i = 0; i < n; i++) {
      const id = echoOf(await request({ port: entry, host: 'shop.test', path: `/split/${i}` })).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['heavy', 'light'], JSON.stringify([...counts]));
    const share = (counts.get('light') ?? 0) / n;
    assert.ok(share > 0.12 && share < 0.4, `light got ${share * 100}% of the requests, expected about 25%`);
  });
}

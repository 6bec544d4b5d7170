/*
 * ACME for Gateway API listeners against a real Pebble (native mode, file source): a Gateway opted
 * in with `passerelle.dev/acme: "true"` whose HTTPS listener names a Secret that does not exist gets
 * a certificate for the listener's hostname over HTTP-01, served by SNI to the HTTPRoute's clients;
 * the same Gateway without the annotation gets none.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPebble } from './pebble.ts';
import { chainsTo, configToml, httpsGet, proxyPorts, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';
import type { ProxyPorts } from './env.ts';

/** A GatewayClass, a Gateway with an HTTP and an HTTPS listener for `host`, an HTTPRoute and its Service. */
function gatewayYaml(o: { readonly ports: ProxyPorts; readonly echoPort: number; readonly host: string; readonly acme: boolean }): string {
  const annotations = o.acme ? '\n  annotations:\n    passerelle.dev/acme: "true"' : '';
  return `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: web}
spec: {ports: [{name: http, port: 80, targetPort: ${o.echoPort}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: web, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: ${o.echoPort}}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: passerelle}
spec: {controllerName: passerelle.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
  namespace: web${annotations}
spec:
  gatewayClassName: passerelle
  listeners:
    - {name: http, protocol: HTTP, port: ${o.ports.http}, hostname: ${o.host}}
    - name: https
      protocol: HTTPS
      port: ${o.ports.https}
      hostname: ${o.host}
      tls: {mode: Terminate, certificateRefs: [{name: edge-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: web}
spec:
  parentRefs: [{name: edge}]
  hostnames: [${o.host}]
  rules:
    - backendRefs: [{name: echo, port: 80}]
`;
}

test('native: a Gateway opted in to ACME gets its HTTPS listener hostname issued over HTTP-01 and served by SNI; without the annotation, none', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-gw-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, nonceReject: 15, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const host = 'gw.example.test';

  // Without the annotation: no order, the listener has no certificate (the default one is served).
  let running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble }), yaml: gatewayYaml({ ports, echoPort: echo.port, host, acme: false }) });
  try {
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(pebble.ordersCreated(), 0, 'no order for a Gateway that did not opt in');
    assert.equal(running.acme!.manager.certificates().length, 0);
    const root = await pebble.root();
    assert.ok(!chainsTo(await servedChain(ports.https, host), host, root));

    // Opted in (the file source sees the change): one certificate for the listener's hostname.
    await writeFile(path.join(dir, 'ingress', 'objects.yaml'), gatewayYaml({ ports, echoPort: echo.port, host, acme: true }));
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 1, 120_000, 'the Gateway listener certificate');
    await waitUntil(async () => chainsTo(await servedChain(ports.https, host), host, root), 10_000, `${host} served its ACME certificate`);
    const res = await httpsGet(ports.https, host, root);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /echo gw\.example\.test/);
    assert.deepEqual(
      manager.certificates().map((c) => c.names),
      [[host]],
    );
  } finally {
    await running.stop();
  }
  // A restart serves it from storage at once.
  running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble }), yaml: gatewayYaml({ ports, echoPort: echo.port, host, acme: true }) });
  try {
    assert.ok(chainsTo(await servedChain(ports.https, host), host, await pebble.root()), 'served from storage right after the restart');
  } finally {
    await running.stop();
  }
});

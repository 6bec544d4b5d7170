/*
 * DNS-01 end to end: real Pebble whose DNS is a real BIND 9 (test/integration/acme/bind.ts), the
 * RFC 2136 provider writing the TXT records with TSIG. A certificate for `*.example.test` and
 * `example.test` is issued, served by SNI for any one-label name, renewed, and its TXT records are
 * gone after each order — in native and haproxy modes. A wrong key is a diagnostic naming the zone
 * and the cause, retried with backoff on the same order.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBind } from './bind.ts';
import type { Bind } from './bind.ts';
import { startPebble } from './pebble.ts';
import type { Pebble } from './pebble.ts';
import { chainsTo, configToml, httpsGet, proxyPorts, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';
import type { ProxyPorts } from './env.ts';

const WILD_YAML = (echoPort: number): string => `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: web}
spec: {ports: [{name: http, port: 80, targetPort: ${echoPort}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: web, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: ${echoPort}}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: wild, namespace: web}
spec:
  ingressClassName: passerelle
  tls:
    - hosts: ["*.example.test", example.test]
  rules:
    - host: "*.example.test"
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}
    - host: example.test
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: passerelle}
spec: {controller: passerelle.dev/ingress-controller}
`;

/** The configuration: `mode`, onHostRule, DNS-01 through BIND with the key secret in a file. */
async function dnsToml(o: { dir: string; ports: ProxyPorts; pebble: Pebble; bind: Bind; mode: string; secret: string }): Promise<string> {
  const secretFile = path.join(o.dir, 'tsig.secret');
  await writeFile(secretFile, `${o.secret}\n`, { mode: 0o600 });
  const extra = `[acme.dnsChallenge]
provider = "rfc2136"
resolvers = ["${o.bind.server}"]
[acme.dnsChallenge.rfc2136]
nameserver = "${o.bind.server}"
zone = "example.test"
tsigKey = "${o.bind.key.name}"
tsigAlgorithm = "${o.bind.key.algorithm}"
tsigSecretFile = "${secretFile}"
`;
  const toml = configToml({ dir: o.dir, ports: o.ports, pebble: o.pebble, acmeExtra: extra });
  return o.mode === 'native' ? toml : toml.replace('mode = "native"', `mode = "${o.mode}"\nworkDir = "${path.join(o.dir, 'work')}"`);
}

for (const mode of ['native', 'haproxy'] as const) {
  test(`${mode}: DNS-01 through RFC 2136 issues *.example.test + example.test, serves it for any one-label name, renews it, and removes its TXT records`, { timeout: 240_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), `passerelle-dns01-${mode}-`));
    const bind = await startBind(path.join(dir, 'bind'), ['example.test']);
    const ports = await proxyPorts();
    const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, dnsServer: bind.server, validitySeconds: 40, vaSleepSeconds: 1 });
    const echo = await startEcho('echo');
    t.after(async () => {
      await pebble.stop();
      await echo.close();
      await bind.stop();
      await rm(dir, { recursive: true, force: true });
    });
    t.diagnostic(`pebble: ${pebble.binaries.version}`);
    const running = await startPasserelle({
      dir,
      toml: await dnsToml({ dir, ports, pebble, bind, mode, secret: bind.key.secret }),
      yaml: WILD_YAML(echo.port),
      tuning: { backoffBaseMs: 1000, backoffMaxMs: 4000, pollMinMs: 200, pollMaxMs: 500, pollAttempts: 60, httpRetries: 1, checkIntervalMs: 1000, ...(pebble.binaries.version.startsWith('debian-') ? { renewFraction: 0.99999 } : {}) },
    });
    try {
      const manager = running.acme!.manager;
      await waitUntil(() => manager.certificates().length === 1 || manager.counters.failures > 0, 90_000, 'the wildcard certificate (or a failure)');
      assert.equal(manager.counters.failures, 0, `no failed order: ${JSON.stringify(manager.state.backoff)}`);
      assert.deepEqual([...manager.certificates()[0]!.names], ['*.example.test', 'example.test']);
      assert.match(manager.statuses()[0]?.challenge ?? '', /^dns-01 \(\*\.example\.test is a wildcard/);
      const root = await pebble.root();
      for (const name of ['example.test', 'app.example.test', 'anything-else.example.test']) {
        await waitUntil(async () => chainsTo(await servedChain(ports.https, name), name, root), 15_000, `${name} served the wildcard certificate by ${mode}`);
        const res = await httpsGet(ports.https, name, root);
        assert.equal(res.status, 200, `${name}: ${res.body}`);
      }
      // Two labels below the wildcard: not covered (the default certificate).
      assert.ok(!chainsTo(await servedChain(ports.https, 'a.b.example.test'), 'a.b.example.test', root));
      await waitUntil(async () => (await bind.txt('_acme-challenge.example.test')).length === 0, 10_000, 'the TXT records removed after the order');

      // Renewal (40 s certificates, renewed when a third is left): a new serial served, TXT removed again.
      const first = (await servedChain(ports.https, 'app.example.test'))[0]?.serialNumber;
      await waitUntil(() => manager.counters.issued >= 2, 90_000, 'the renewal');
      await waitUntil(async () => (await servedChain(ports.https, 'app.example.test'))[0]?.serialNumber !== first, 15_000, 'the renewed certificate served');
      await waitUntil(async () => (await bind.txt('_acme-challenge.example.test')).length === 0, 10_000, 'the TXT records removed after the renewal');
      assert.equal(manager.counters.failures, 0);
      assert.match(await bind.log(), /updating zone 'example\.test\/IN': deleting an RR at _acme-challenge\.example\.test TXT/);
    } finally {
      await running.stop();
    }
  });
}

test('native: a wrong TSIG key is an ACME diagnostic naming the zone and the cause, retried with backoff on the same order', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-dns01-badkey-'));
  const bind = await startBind(path.join(dir, 'bind'), ['example.test']);
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, dnsServer: bind.server, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await bind.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const wrong = Buffer.alloc(32, 9).toString('base64');
  const running = await startPasserelle({ dir, toml: await dnsToml({ dir, ports, pebble, bind, mode: 'native', secret: wrong }), yaml: WILD_YAML(echo.port) });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.counters.failures >= 2, 60_000, 'two failed attempts');
    // Between two attempts (the backoff), the failure is a diagnostic.
    await waitUntil(() => manager.diagnostics().some((d) => d.code === 'PASS_ACME_ORDER_FAILED'), 10_000, 'the order diagnostic');
    const diag = manager.diagnostics().find((d) => d.code === 'PASS_ACME_ORDER_FAILED');
    assert.ok(diag, `an order diagnostic: ${JSON.stringify(manager.diagnostics())}`);
    assert.match(diag.message, /rfc2136: could not add the TXT record _acme-challenge\.example\.test\. in example\.test at 127\.0\.0\.1:\d+: .*NOTAUTH\(BADSIG\)/);
    assert.match(diag.message, /could not be written or seen through rfc2136/);
    assert.ok(!diag.message.includes(wrong), 'the secret is not in the diagnostic');
    assert.equal(pebble.ordersCreated(), 1, 'the failed order is resumed, never placed again');
    assert.deepEqual(await bind.txt('_acme-challenge.example.test'), []);
    assert.equal(manager.certificates().length, 0);
  } finally {
    await running.stop();
  }
});

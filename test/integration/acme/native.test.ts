/*
 * ACME against a real Pebble in native mode: HTTP-01 validated through the proxy's own http entry
 * point, several hosts issued, each SNI served its certificate chaining to Pebble's root, and a
 * restart places zero new orders.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPebble } from './pebble.ts';
import { chainsTo, configToml, ingressYaml, proxyPorts, servedChain, httpsGet, startEcho, startPasserelle, waitUntil } from './env.ts';

test('native: onHostRule issues one certificate per TLS entry over real HTTP-01, serves each by SNI, and a restart orders nothing', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-'));
  const ports = await proxyPorts();
  // Pebble's random nonce rejections (raised from 5 % to 15 %) and validation delays stay on.
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, nonceReject: 15, vaSleepSeconds: 3 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  t.diagnostic(`pebble: ${pebble.binaries.version}`);

  const groups = [['a.example.test', 'www.a.example.test'], ['b.example.test'], ['c.example.org']];
  const yaml = ingressYaml({ echoPort: echo.port, groups, tls: true });
  let running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble }), yaml });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 3, 120_000, 'three certificates');
    const root = await pebble.root();
    for (const hosts of groups) {
      for (const h of hosts) {
        await waitUntil(async () => chainsTo(await servedChain(ports.https, h), h, root), 5000, `${h} served its ACME certificate`);
        const res = await httpsGet(ports.https, h, root);
        assert.equal(res.status, 200, `${h}: ${res.body}`);
      }
    }
    // Hosts of one TLS entry share one certificate.
    const [a1, a2] = await Promise.all([servedChain(ports.https, 'a.example.test'), servedChain(ports.https, 'www.a.example.test')]);
    assert.equal(a1[0]?.fingerprint256, a2[0]?.fingerprint256);
    // An unknown name gets the default certificate.
    const other = await servedChain(ports.https, 'unknown.example.test');
    assert.ok(!chainsTo(other, 'unknown.example.test', root));

    // Storage: mode 0600, PEM files per certificate.
    const file = path.join(dir, 'acme.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { DomainsCertificate: { Certs: unknown[] }; Orders: unknown[] };
    assert.equal(stored.DomainsCertificate.Certs.length, 3);
    assert.equal(stored.Orders.length, 0);
    assert.equal((await stat(path.join(dir, 'certs', 'a.example.test.pem'))).mode & 0o777, 0o600);
    assert.match(await readFile(path.join(dir, 'certs', 'b.example.test.crt'), 'utf8'), /BEGIN CERTIFICATE/);

    const ordersBefore = pebble.ordersCreated();
    assert.ok(ordersBefore >= 3, `pebble saw ${ordersBefore} orders`);
    await running.stop();

    // Restart: the stored certificates are served at once and no order is placed.
    running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble }), yaml });
    for (const h of ['a.example.test', 'b.example.test', 'c.example.org']) {
      assert.ok(chainsTo(await servedChain(ports.https, h), h, root), `${h} served from storage right after the restart`);
    }
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(pebble.ordersCreated(), ordersBefore, 'no new order after the restart');
    assert.equal(running.acme!.manager.counters.ordersPlaced, 0);
  } finally {
    await running.stop();
  }
});

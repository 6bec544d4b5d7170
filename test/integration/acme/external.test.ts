/*
 * ACME in haproxy and nginx mode against a real Pebble: HTTP-01 answered through the proxy's own
 * challenge routing (the proxy forwards /.well-known/acme-challenge/ to the controller before the
 * http→https redirect), then each host served its issued certificate by SNI, chaining to Pebble's root.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPebble } from './pebble.ts';
import { chainsTo, configToml, httpsGet, ingressYaml, proxyPorts, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';

for (const mode of ['haproxy', 'nginx'] as const) {
  test(`${mode}: onHostRule and [[acme.domains]] certificates issued over HTTP-01 through the proxy's challenge routing, then served by SNI (a name without a route too)`, { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), `passerelle-acme-${mode}-`));
    // nginx's workers (nobody, as root) read the certificates below it at each handshake.
    await chmod(dir, 0o711);
    const ports = await proxyPorts();
    const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, vaSleepSeconds: 1 });
    const echo = await startEcho('echo');
    t.after(async () => {
      await pebble.stop();
      await echo.close();
      await rm(dir, { recursive: true, force: true });
    });
    const groups = [['x.example.test', 'www.x.example.test'], ['y.example.test']];
    const yaml = ingressYaml({ echoPort: echo.port, groups, tls: true });
    // A name no Ingress routes: its certificate is still served (the proxy answers 404 for it).
    const alone = ['alone.example.test', 'www.alone.example.test'];
    const acmeExtra = `[[acme.domains]]\nmain = "${alone[0]}"\nsans = ["${alone[1]}"]\n`;
    const toml = configToml({ dir, ports, pebble, acmeExtra }).replace('mode = "native"', `mode = "${mode}"\nworkDir = "${path.join(dir, 'work')}"`);
    const running = await startPasserelle({ dir, toml, yaml });
    try {
      const manager = running.acme!.manager;
      await waitUntil(() => manager.certificates().length === 3 || manager.counters.failures > 0, 90_000, 'three certificates (or a failure)');
      assert.equal(manager.counters.failures, 0, `no failed order: ${JSON.stringify(manager.state.backoff)}`);
      const root = await pebble.root();
      for (const hosts of groups) {
        for (const h of hosts) {
          await waitUntil(async () => chainsTo(await servedChain(ports.https, h), h, root), 15_000, `${h} served its ACME certificate by ${mode}`);
          const res = await httpsGet(ports.https, h, root);
          assert.equal(res.status, 200, `${h}: ${res.body}`);
        }
      }
      for (const h of alone) {
        await waitUntil(async () => chainsTo(await servedChain(ports.https, h), h, root), 15_000, `${h} (no route) served its ACME certificate by ${mode}`);
        assert.equal((await httpsGet(ports.https, h, root)).status, 404, `${h} has no route`);
      }
      assert.equal(pebble.ordersCreated(), 3, 'one order per certificate');
    } finally {
      await running.stop();
    }
  });
}

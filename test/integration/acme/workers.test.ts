/*
 * ACME with `[proxy] workers = 2` against a real Pebble: the handshakes run in worker threads while
 * the ACME manager lives in the main thread. TLS-ALPN-01 challenge certificates are asked of it per
 * `acme-tls/1` handshake (Pebble validates only on the TLS port); onDemand orders are asked of it by
 * the handshake of an unknown name, and the certificate reaches every worker before that handshake
 * goes on. Every connection below is a new one, so the kernel spreads them over both threads.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NativeWorkerPool } from '../../../src/drivers/native/workers.ts';
import type { RunningController } from '../../../src/cli/run.ts';
import { freePort, startPebble } from './pebble.ts';
import { chainsTo, configToml, httpsGet, ingressYaml, proxyPorts, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';

/** The shared ACME configuration, with two worker threads. */
function withTwoWorkers(toml: string): string {
  assert.ok(toml.includes('mode = "native"\n'));
  return toml.replace('mode = "native"\n', 'mode = "native"\nworkers = 2\n');
}

/** The running driver, a pool of two threads. */
function pool(running: RunningController): NativeWorkerPool {
  const driver = running.driver;
  assert.ok(driver instanceof NativeWorkerPool, 'workers = 2: the worker pool');
  assert.equal(driver.workers, 2);
  return driver;
}

/** `n` HTTPS requests for `host`, each on a new connection, all 200; asserts both threads served some. */
async function servedByBoth(running: RunningController, port: number, host: string, root: string, n = 24): Promise<void> {
  const p = pool(running);
  const before = await p.requestCounts();
  for (let i = 0; i < n; i++) {
    const res = await httpsGet(port, host, root);
    assert.equal(res.status, 200, `${host}: ${res.body}`);
  }
  const after = await p.requestCounts();
  const d = after.map((c, i) => c - (before[i] ?? 0));
  assert.equal(d.length, 2);
  assert.equal(d[0]! + d[1]!, n);
  assert.ok(d[0]! > 0 && d[1]! > 0, `both worker threads served ${host}: ${d.join(', ')}`);
}

test('workers = 2: TLS-ALPN-01 issues over the TLS port only, and every worker serves the certificates', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-workers-alpn-'));
  const ports = await proxyPorts();
  // HTTP-01 would be validated on a port nothing listens on: only TLS-ALPN-01 can succeed.
  const pebble = await startPebble({ dir, httpPort: await freePort(), tlsPort: ports.https, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const groups = [['alpn.example.test', 'www.alpn.example.test'], ['other.example.org']];
  const yaml = ingressYaml({ echoPort: echo.port, groups, tls: true });
  const running = await startPasserelle({ dir, toml: withTwoWorkers(configToml({ dir, ports, pebble, acmeExtra: 'challenge = "tls-alpn-01"' })), yaml });
  try {
    assert.equal(await pool(running).running(), 2);
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 2, 120_000, 'two certificates over TLS-ALPN-01');
    assert.equal(manager.counters.failures, 0, 'no failed order');
    const root = await pebble.root();
    for (const h of groups.flat()) {
      await waitUntil(async () => chainsTo(await servedChain(ports.https, h), h, root), 5000, `${h} served its ACME certificate`);
      // New connections land on either thread: each serves the issued certificate.
      for (let i = 0; i < 8; i++) assert.ok(chainsTo(await servedChain(ports.https, h), h, root), `${h}: handshake ${i}`);
    }
    await servedByBoth(running, ports.https, 'alpn.example.test', root);
    assert.equal(running.acme!.challenges.size, 0, 'no challenge left after the orders');
  } finally {
    await running.stop();
  }
});

test('workers = 2: onDemand issues within the handshake of either thread, one order, then served by every worker', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-workers-ondemand-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  // onHostRule off: nothing is ordered ahead; the Ingress hosts are allowed on demand.
  const yaml = ingressYaml({ echoPort: echo.port, groups: [['first.example.test'], ['second.example.test']] });
  const toml = withTwoWorkers(configToml({ dir, ports, pebble }).replace('onHostRule = true', 'onHostRule = false\nonDemand = true\nonDemandRateLimit = 5'));
  const running = await startPasserelle({ dir, toml, yaml });
  try {
    assert.equal(await pool(running).running(), 2);
    const manager = running.acme!.manager;
    const root = await pebble.root();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(pebble.ordersCreated(), 0, 'onHostRule off: nothing ordered ahead');

    // A name outside the Ingress hosts: the default certificate, no order.
    assert.ok(!chainsTo(await servedChain(ports.https, 'unlisted.example.test', 10_000), 'unlisted.example.test', root), 'refused: the default certificate');
    assert.equal(pebble.ordersCreated(), 0, 'no order for a refused name');

    // Ten concurrent handshakes on new connections (both threads): one order, all get the certificate.
    const chains = await Promise.all(Array.from({ length: 10 }, () => servedChain(ports.https, 'first.example.test', 60_000)));
    for (const chain of chains) assert.ok(chainsTo(chain, 'first.example.test', root), 'served the issued certificate within the handshake');
    assert.equal(new Set(chains.map((c) => c[0]?.fingerprint256)).size, 1);
    assert.equal(pebble.ordersCreated(), 1, 'ten concurrent handshakes, one order');

    // One handshake orders the second name; then every thread already holds it.
    assert.ok(chainsTo(await servedChain(ports.https, 'second.example.test', 60_000), 'second.example.test', root));
    assert.equal(pebble.ordersCreated(), 2);
    for (let i = 0; i < 8; i++) assert.ok(chainsTo(await servedChain(ports.https, 'second.example.test'), 'second.example.test', root), `handshake ${i}`);
    await servedByBoth(running, ports.https, 'second.example.test', root);
    await servedByBoth(running, ports.https, 'first.example.test', root);

    // The next re-sync keeps serving them in every thread (the model now carries them).
    running.controller.signal();
    await new Promise((r) => setTimeout(r, 500));
    await servedByBoth(running, ports.https, 'first.example.test', root, 12);
    assert.equal(pebble.ordersCreated(), 2, 'no further order');
    assert.equal(manager.counters.ordersPlaced, 2);
  } finally {
    await running.stop();
  }
});

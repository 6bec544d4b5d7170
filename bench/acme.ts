/*
 * 100 hosts (one Ingress each, onHostRule) issued against a real Pebble with its nonce rejections
 * and validation delays on; prints wall time and orders, then restarts and counts new orders (0).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPebble } from '../test/integration/acme/pebble.ts';
import { configToml, ingressYaml, proxyPorts, startEcho, startPasserelle, waitUntil } from '../test/integration/acme/env.ts';

const hosts = Number(process.env['HOSTS'] ?? 100);
const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-bench-acme-'));
const ports = await proxyPorts();
const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https });
const echo = await startEcho('echo');
try {
  const groups = Array.from({ length: hosts }, (_, i) => [`h${i}.bench${Math.floor(i / 40)}.test`]);
  const yaml = ingressYaml({ echoPort: echo.port, groups, tls: true });
  const toml = configToml({ dir, ports, pebble });
  const tuning = { backoffBaseMs: 1000, backoffMaxMs: 8000, pollMinMs: 250, pollMaxMs: 2000, pollAttempts: 120, httpRetries: 2, checkIntervalMs: 5000, concurrency: 16 };
  const t0 = performance.now();
  let running = await startPasserelle({ dir, toml, yaml, tuning });
  await waitUntil(() => running.acme!.manager.certificates().length === hosts, 900_000, `${hosts} certificates`);
  const wall = (performance.now() - t0) / 1000;
  const c = running.acme!.manager.counters;
  const orders = pebble.ordersCreated();
  await running.stop();
  const t1 = performance.now();
  running = await startPasserelle({ dir, toml, yaml, tuning });
  await new Promise((r) => setTimeout(r, 5000));
  const restartOrders = pebble.ordersCreated() - orders;
  const placedAfterRestart = running.acme!.manager.counters.ordersPlaced;
  await running.stop();
  console.log(`pebble            ${pebble.binaries.version} (nonce rejections 5 %, validation delays up to 5 s)`);
  console.log(`hosts             ${hosts} (one certificate each; budget: ${Math.ceil(hosts / 40)} registered domains under 50)`);
  console.log(`wall time         ${wall.toFixed(1)} s to all ${hosts} served`);
  console.log(`orders at the CA  ${orders} (placed ${c.ordersPlaced}, failures retried ${c.failures}, issued ${c.issued})`);
  console.log(`after restart     ${restartOrders} new orders at the CA, ${placedAfterRestart} placed (startup ${((performance.now() - t1) / 1000 - 5).toFixed(2)} s)`);
  if (restartOrders !== 0 || placedAfterRestart !== 0) process.exitCode = 1;
} finally {
  await pebble.stop();
  await echo.close();
  await rm(dir, { recursive: true, force: true });
}

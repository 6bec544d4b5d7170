/*
 * ACME lifecycle against a real Pebble (native mode): the CA down → backoff with a plain cause and
 * the default certificate, recovery when it returns; short-lived certificates renewed under load
 * without a failed request; onDemand's allow policy; the seed's [acme] block.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startPebble } from './pebble.ts';
import type { Pebble } from './pebble.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Logger } from '../../../src/shared/logger.ts';
import { chainsTo, configToml, FAST, httpsGet, ingressYaml, proxyPorts, servedChain, startEcho, startPasserelle, waitUntil } from './env.ts';

const seedDir = path.resolve(import.meta.dirname, '../../../../shared/seed');

test('native: Pebble down → per-name backoff with the cause, default certificate; Pebble back → issued', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-down-'));
  const ports = await proxyPorts();
  const echo = await startEcho('echo');
  // Start Pebble once to learn its ports and files, then stop it: the controller starts with the CA down.
  let pebble: Pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https });
  const pebblePorts = pebble.ports;
  await pebble.stop();
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const yaml = ingressYaml({ echoPort: echo.port, groups: [['down.example.test']], tls: true });
  const running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble }), yaml });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => (manager.state.backoff['down.example.test']?.failures ?? 0) >= 2, 60_000, 'two failed attempts backing off');
    const b = manager.state.backoff['down.example.test']!;
    assert.match(b.lastError?.cause ?? '', /cannot be reached/, JSON.stringify(b.lastError));
    assert.ok(Date.parse(b.nextAttemptAt) > Date.now() - 1000);
    const persisted = async (): Promise<number> => {
      const stored = JSON.parse(await readFile(path.join(dir, 'acme.json'), 'utf8')) as { Backoff: Record<string, { failures: number }> };
      return stored.Backoff['down.example.test']?.failures ?? 0;
    };
    await waitUntil(async () => (await persisted()) >= 2, 5000, 'the backoff persisted in acme.json');
    assert.ok(manager.diagnostics().some((d) => d.code === 'PASS_ACME_ORDER_FAILED' && d.message.includes('down.example.test')));
    // Meanwhile the default certificate is served.
    const chain = await servedChain(ports.https, 'down.example.test');
    assert.ok(chain[0]?.checkHost('down.example.test') === undefined);

    pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, ports: pebblePorts });
    await waitUntil(() => manager.certificates().length === 1, 60_000, 'the certificate after Pebble came back');
    const root = await pebble.root();
    await waitUntil(async () => chainsTo(await servedChain(ports.https, 'down.example.test'), 'down.example.test', root), 5000, 'the new certificate served');
    assert.equal(manager.state.backoff['down.example.test'], undefined, 'success clears the backoff');
  } finally {
    await running.stop();
  }
});

test('native: short-lived certificates are renewed and swapped under load without a failed request', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-renew-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, validitySeconds: 30, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  if (pebble.binaries.version.startsWith('debian-')) t.diagnostic('Debian Pebble 2.4 has no validity setting: renewFraction makes certificates due at once');
  const yaml = ingressYaml({ echoPort: echo.port, groups: [['renew.example.test']], tls: true });
  const running = await startPasserelle({
    dir,
    toml: configToml({ dir, ports, pebble }),
    yaml,
    tuning: { backoffBaseMs: 1000, backoffMaxMs: 4000, pollMinMs: 200, pollMaxMs: 500, pollAttempts: 60, httpRetries: 1, checkIntervalMs: 1000, ...(pebble.binaries.version.startsWith('debian-') ? { renewFraction: 0.99999 } : {}) },
  });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.certificates().length === 1, 60_000, 'the first certificate');
    const root = await pebble.root();
    await waitUntil(async () => chainsTo(await servedChain(ports.https, 'renew.example.test'), 'renew.example.test', root), 5000, 'the first certificate served');
    const first = manager.certificates()[0]!.certPem;
    const serials = new Set<string>();
    let ok = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 60_000;
    // Load: 4 clients, each a new TLS handshake + request, until two renewals were served.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < deadline && manager.counters.issued < 3) {
          try {
            const [chain, res] = await Promise.all([servedChain(ports.https, 'renew.example.test'), httpsGet(ports.https, 'renew.example.test', root)]);
            if (res.status !== 200) failures.push(`status ${res.status}`);
            else ok++;
            if (chain[0] !== undefined) serials.add(chain[0].serialNumber);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    assert.deepEqual(failures, [], 'no failed request during renewals');
    assert.ok(manager.counters.issued >= 3, `renewed twice (issued ${manager.counters.issued})`);
    assert.ok(serials.size >= 2, `the renewed certificate was served (${serials.size} serials seen over ${ok} requests)`);
    assert.notEqual(manager.certificates()[0]!.certPem, first);
  } finally {
    await running.stop();
  }
});

test('native onDemand: an unknown SNI name the policy allows gets its certificate within the handshake; concurrent handshakes share one order; a refused name gets the default certificate and no order', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-ondemand-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https, vaSleepSeconds: 1 });
  const echo = await startEcho('echo');
  // The ask URL: allows asked.example.test only, and counts the questions.
  const asked: string[] = [];
  const ask = createServer((req, res) => {
    const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    asked.push(domain);
    res.writeHead(domain === 'asked.example.test' ? 200 : 404).end();
  });
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', () => r()));
  const askPort = (ask.address() as AddressInfo).port;
  t.after(async () => {
    ask.close();
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  // onHostRule off: nothing is ordered ahead; the Ingress host is allowed on demand, and the ask URL's names.
  const yaml = ingressYaml({ echoPort: echo.port, groups: [['listed.example.test']] });
  const toml = configToml({ dir, ports, pebble }).replace('onHostRule = true', `onHostRule = false\nonDemand = true\nonDemandAsk = "http://127.0.0.1:${askPort}/allow"\nonDemandRateLimit = 5`);
  const running = await startPasserelle({ dir, toml, yaml, tuning: { ...FAST } });
  try {
    const manager = running.acme!.manager;
    await new Promise((r) => setTimeout(r, 500));
    const root = await pebble.root();
    const before = pebble.ordersCreated();
    assert.equal(before, 0, 'onHostRule off: nothing ordered ahead');

    // Refused: the handshake completes with the default certificate and no order is placed.
    const refused = await servedChain(ports.https, 'evil.example.test', 10_000);
    assert.ok(!chainsTo(refused, 'evil.example.test', root), 'the refused name gets the default certificate');
    assert.ok(asked.includes('evil.example.test'), 'the ask URL was consulted');
    assert.equal(pebble.ordersCreated(), before, 'no order for a refused name');

    // Allowed (an Ingress host): ten concurrent handshakes wait for one order and all get the issued certificate.
    const chains = await Promise.all(Array.from({ length: 10 }, () => servedChain(ports.https, 'listed.example.test', 60_000)));
    for (const chain of chains) assert.ok(chainsTo(chain, 'listed.example.test', root), 'served the issued certificate within the handshake');
    assert.equal(new Set(chains.map((c) => c[0]?.fingerprint256)).size, 1);
    assert.equal(pebble.ordersCreated(), before + 1, 'ten concurrent handshakes, one order');
    assert.equal(manager.counters.ordersPlaced, 1);
    const res = await httpsGet(ports.https, 'listed.example.test', root);
    assert.equal(res.status, 200, res.body);

    // Allowed by the ask URL (not an Ingress host): issued within the handshake too.
    assert.ok(chainsTo(await servedChain(ports.https, 'asked.example.test', 60_000), 'asked.example.test', root), 'the ask URL allowed it');
    assert.equal(pebble.ordersCreated(), before + 2);

    // The next re-sync keeps serving them (the controller merges the stored onDemand certificates).
    running.controller.signal();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(chainsTo(await servedChain(ports.https, 'listed.example.test'), 'listed.example.test', root));
    assert.ok(chainsTo(await servedChain(ports.https, 'asked.example.test'), 'asked.example.test', root));
    assert.equal(pebble.ordersCreated(), before + 2, 'no further order');
  } finally {
    await running.stop();
  }
});

test("the seed's [acme] block (storageFile, onDemand, onHostRule, [[acme.domains]]) with caServer pointed at Pebble", { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-seed-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https });
  t.after(async () => {
    await pebble.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const seedToml = await readFile(path.join(seedDir, 'traefik.toml'), 'utf8');
  const block = seedToml.slice(seedToml.indexOf('[acme]'));
  // Only what must change to run here: the CA, the trust for Pebble's own TLS certificate and a
  // writable storage path. No acceptTermsOfService line: the CA's terms are agreed on the user's
  // behalf, as Traefik did, and their URL is logged.
  const acmeBlock = block
    .replace(/caServer = ".*"/, `caServer = "${pebble.directoryUrl}"\ncaBundle = "${pebble.caFile}"`)
    .replace(/storageFile = ".*"/, `storageFile = "${path.join(dir, 'acme.json')}"`);
  assert.match(acmeBlock, /onHostRule = true/);
  assert.doesNotMatch(acmeBlock, /acceptTermsOfService/);
  const seedIngress = await readFile(path.join(seedDir, 'ingress.yml'), 'utf8');
  const logged = recordingLogger();
  const running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble, acmeBlock }), yaml: seedIngress, logger: logged.logger });
  try {
    const terms = (await (await undiciFetch(pebble.directoryUrl, { dispatcher: new Agent({ connect: { ca: await readFile(pebble.caFile, 'utf8') } }) })).json()) as { meta?: { termsOfService?: string } };
    const tosUrl = terms.meta?.termsOfService;
    assert.ok(tosUrl !== undefined, 'Pebble announces terms of service');
    await waitUntil(() => logged.lines.some((l) => l.includes('terms of service') && l.includes(tosUrl)), 60_000, 'the terms of service URL logged');
    const manager = running.acme!.manager;
    const want = ['archifleks.net', 'seedbox.archifleks.net', 'tv.archifleks.net', 'torrents.archifleks.net', 'movies.archifleks.net'];
    await waitUntil(() => want.every((n) => manager.certificates().some((c) => c.names.includes(n))), 120_000, `certificates for ${want.join(', ')}`);
    const root = await pebble.root();
    for (const n of want.slice(1)) await waitUntil(async () => chainsTo(await servedChain(ports.https, n), n, root), 5000, `${n} served`);
    const stored = JSON.parse(await readFile(path.join(dir, 'acme.json'), 'utf8')) as { Email: string };
    assert.equal(stored.Email, 'lefevre.kevin@gmail.com');
  } finally {
    await running.stop();
  }
});

test('acceptTermsOfService = false refuses the CA\'s terms explicitly: no account, no order, the cause says why', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-acme-tos-'));
  const ports = await proxyPorts();
  const pebble = await startPebble({ dir, httpPort: ports.http, tlsPort: ports.https });
  const echo = await startEcho('echo');
  t.after(async () => {
    await pebble.stop();
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });
  const acmeBlock = `[acme]
email = "ops@example.net"
storage = "${path.join(dir, 'acme.json')}"
onHostRule = true
caServer = "${pebble.directoryUrl}"
caBundle = "${pebble.caFile}"
acceptTermsOfService = false
`;
  const yaml = ingressYaml({ echoPort: echo.port, groups: [['refused.example.test']], tls: true });
  const running = await startPasserelle({ dir, toml: configToml({ dir, ports, pebble, acmeBlock }), yaml });
  try {
    const manager = running.acme!.manager;
    await waitUntil(() => manager.state.backoff['refused.example.test']?.lastError !== undefined, 30_000, 'the refusal recorded');
    const err = manager.state.backoff['refused.example.test']!.lastError!;
    assert.match(err.detail, /terms of service \(.+\) and acceptTermsOfService = false refuses them/, JSON.stringify(err));
    assert.match(err.cause, /acceptTermsOfService/);
    assert.equal(manager.state.account?.url, undefined, 'no account registered');
    assert.equal(manager.certificates().length, 0);
  } finally {
    await running.stop();
  }
});

/** A logger that keeps every message with its fields, as one line each. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const put = (obj: object, msg?: string): void => {
      lines.push(`${msg ?? ''} ${JSON.stringify({ ...bindings, ...obj })}`);
    };
    return { debug: put, info: put, warn: put, error: put, child: (b) => make({ ...bindings, ...b }) };
  };
  return { logger: make({}), lines };
}

void freePort;

/*
 * `[proxy] workers`: the native proxy on two worker threads sharing the listening address
 * (SO_REUSEPORT), with real HTTP clients. Each request opens its own connection (agent: false), so
 * the kernel spreads them over both threads; the pool's per-worker request counters tell which
 * thread served (a debugging counter, nothing in the answers).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestRecord } from '../../src/drivers/types.ts';
import { createChallengeCertificate } from '../../src/acme/challenges.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { startController } from '../../src/cli/run.ts';
import { generateDefaultCertificate } from '../../src/drivers/native/tls.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { createNativeWorkerPool, NativeWorkerPool as WorkerPool } from '../../src/drivers/native/workers.ts';
import type { NativeWorkerPool } from '../../src/drivers/native/workers.ts';
import { freePort } from '../ports.ts';

const HOST = '127.0.0.1';

/** An upstream answering `name` to every request. */
async function upstream(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(name));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** One entry point, every host to backend `ns/<name>:80` on `upstreamPort`. */
function model(port: number, name: string, upstreamPort: number): RoutingModel {
  const id = `ns/${name}:80`;
  const source = { kind: 'Ingress', namespace: 'ns', name: 'i' } as const;
  return {
    entryPoints: [{ name: 'web', address: { host: HOST, port }, tls: false, middlewares: [] }],
    virtualHosts: [{ host: 'app.test', kind: 'exact', routes: [{ path: '/', pathType: 'Prefix', backend: id, source, field: 'spec.rules[0]' }], sources: [source] }],
    backends: { [id]: { id, namespace: 'ns', service: name, servicePort: 80, protocol: 'http', endpoints: [{ address: HOST, port: upstreamPort, weight: 1 }] } },
    certificates: [],
    diagnostics: [],
  };
}

/** GET on a new connection; the status and body. */
function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, agent: false, headers: { host: 'app.test' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function counts(pool: NativeWorkerPool): Promise<number[]> {
  return pool.requestCounts();
}

/** The requests each worker received between two counter readings. */
function delta(before: number[], after: number[]): number[] {
  return after.map((n, i) => n - (before[i] ?? 0));
}

async function withPool(fn: (pool: NativeWorkerPool, port: number, records: RequestRecord[]) => Promise<void>): Promise<void> {
  const records: RequestRecord[] = [];
  const pool = createNativeWorkerPool({ workers: 2, acmeChallenge: (token) => (token === 'tok' ? 'tok.key-authorization' : undefined), observe: (r) => records.push(r) });
  const port = await freePort();
  try {
    await fn(pool, port, records);
  } finally {
    await pool.stop(1000);
  }
}

test('workers = 2: requests on new connections are served by both worker threads', async () => {
  const a = await upstream('A');
  try {
    await withPool(async (pool, port) => {
      await pool.apply(model(port, 'a', a.port));
      assert.equal(await pool.running(), 2);
      const before = await counts(pool);
      for (let i = 0; i < 40; i++) assert.deepEqual(await get(port), { status: 200, body: 'A' });
      const d = delta(before, await counts(pool));
      assert.equal(d.length, 2);
      assert.equal(d[0]! + d[1]!, 40);
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
      assert.equal(await pool.probe(), true);
    });
  } finally {
    a.server.close();
  }
});

test('workers = 2: a model change is served by every worker once apply() resolves', async () => {
  const a = await upstream('A');
  const b = await upstream('B');
  try {
    await withPool(async (pool, port) => {
      const before = await counts(pool);
      for (let round = 0; round < 6; round++) {
        const [name, up] = round % 2 === 0 ? ['A', a] : ['B', b];
        await pool.apply(model(port, name.toLowerCase(), up.port));
        // No request after apply() resolved may see the previous route, whichever worker takes it.
        const answers = await Promise.all(Array.from({ length: 16 }, () => get(port)));
        for (const r of answers) assert.deepEqual(r, { status: 200, body: name }, `round ${round}`);
      }
      const d = delta(before.length === 0 ? [0, 0] : before, await counts(pool));
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
    });
  } finally {
    a.server.close();
    b.server.close();
  }
});

test('workers = 2: a refused model leaves every worker on the previous one', async () => {
  const a = await upstream('A');
  const blocker = createServer();
  const taken = await freePort();
  await new Promise<void>((resolve) => blocker.listen({ host: HOST, port: taken, exclusive: true }, resolve));
  try {
    await withPool(async (pool, port) => {
      await pool.apply(model(port, 'a', a.port));
      const bad = model(port, 'b', a.port);
      await assert.rejects(pool.apply({ ...bad, entryPoints: [...bad.entryPoints, { name: 'other', address: { host: HOST, port: taken }, tls: false, middlewares: [] }] }), { code: 'PASS_NATIVE_LISTEN' });
      for (let i = 0; i < 10; i++) assert.deepEqual(await get(port), { status: 200, body: 'A' });
    });
  } finally {
    a.server.close();
    blocker.close();
  }
});

test('workers = 2: every worker answers the ACME HTTP-01 token of the primary', async () => {
  const a = await upstream('A');
  try {
    await withPool(async (pool, port) => {
      await pool.apply(model(port, 'a', a.port));
      const before = await counts(pool);
      for (let i = 0; i < 30; i++) {
        assert.deepEqual(await get(port, '/.well-known/acme-challenge/tok'), { status: 200, body: 'tok.key-authorization' });
        assert.equal((await get(port, '/.well-known/acme-challenge/unknown')).status, 404);
      }
      const d = delta(before, await counts(pool));
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers answered: ${d.join(', ')}`);
    });
  } finally {
    a.server.close();
  }
});

test('workers = 2: request records of both workers reach the observer (metrics, access log); endpoint states merge', async () => {
  const a = await upstream('A');
  try {
    await withPool(async (pool, port, records) => {
      await pool.apply(model(port, 'a', a.port));
      const before = await counts(pool);
      for (let i = 0; i < 30; i++) await get(port, `/r${i}`);
      const d = delta(before, await counts(pool));
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
      // Batched: they arrive within ~100 ms.
      const deadline = Date.now() + 5000;
      while (records.length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(records.length, 30);
      assert.deepEqual(new Set(records.map((r) => r.path)), new Set(Array.from({ length: 30 }, (_, i) => `/r${i}`)));
      for (const r of records) {
        assert.equal(r.status, 200);
        assert.equal(r.backend, 'ns/a:80');
        assert.ok(r.time instanceof Date);
      }
      assert.equal((await pool.endpointStates()).get(`ns/a:80 ${HOST}:${a.port}`), 'up');
    });
  } finally {
    a.server.close();
  }
});

test('workers = 2: stop() ends every worker thread and closes the address', async () => {
  const a = await upstream('A');
  try {
    const pool = createNativeWorkerPool({ workers: 2 });
    const port = await freePort();
    await pool.apply(model(port, 'a', a.port));
    assert.equal(await pool.running(), 2);
    assert.equal((await get(port)).status, 200);
    await pool.stop(1000);
    assert.equal(await pool.running(), 0);
    assert.equal(await pool.probe(), false);
    await assert.rejects(get(port), { code: 'ECONNREFUSED' });
    await assert.rejects(pool.apply(model(port, 'a', a.port)), { code: 'PASS_DRIVER_STOPPED' });
  } finally {
    a.server.close();
  }
});

test('workers = 2: a TLS entry point serves one default certificate from every worker', async () => {
  const a = await upstream('A');
  try {
    await withPool(async (pool, port) => {
      const m = model(port, 'a', a.port);
      await pool.apply({ ...m, entryPoints: [{ ...m.entryPoints[0]!, tls: true }] });
      const before = await counts(pool);
      const fingerprints = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const r = await new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
          const req = httpsRequest({ host: HOST, port, path: '/', agent: false, servername: 'app.test', rejectUnauthorized: false, headers: { host: 'app.test' } }, (res) => {
            const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(r.status, 200);
        fingerprints.add(r.fingerprint);
      }
      const d = delta(before, await counts(pool));
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
      assert.equal(fingerprints.size, 1);
    });
  } finally {
    a.server.close();
  }
});

/** A TLS handshake on a new connection offering `alpn`: the leaf certificate served and the protocol. */
function handshake(port: number, servername: string, alpn: string[]): Promise<{ leaf: X509Certificate | undefined; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: HOST, port, servername, rejectUnauthorized: false, ALPNProtocols: alpn, minVersion: 'TLSv1.3' }, () => {
      const leaf = s.getPeerX509Certificate();
      const protocol = s.alpnProtocol;
      s.destroy();
      resolve({ leaf, alpn: protocol });
    });
    s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

/** `model` with its entry point on TLS. */
function tlsModel(port: number, upstreamPort: number): RoutingModel {
  const m = model(port, 'a', upstreamPort);
  return { ...m, entryPoints: [{ ...m.entryPoints[0]!, tls: true }] };
}

// RFC 8737's id-pe-acmeIdentifier extension, as DER OID bytes (1.3.6.1.5.5.7.1.31).
const ACME_IDENTIFIER_OID = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]);

test('workers = 2: acme-tls/1 handshakes on either thread get the challenge certificate the primary holds', async () => {
  const a = await upstream('A');
  const challenge = await createChallengeCertificate('alpn.test', 'token.thumbprint');
  const asked: string[] = [];
  const pool = createNativeWorkerPool({
    workers: 2,
    acmeTlsAlpn: (name) => {
      asked.push(name);
      return name === 'alpn.test' ? Promise.resolve(challenge) : undefined;
    },
  });
  const port = await freePort();
  try {
    await pool.apply(tlsModel(port, a.port));
    for (let i = 0; i < 20; i++) {
      const r = await handshake(port, 'alpn.test', ['acme-tls/1']);
      assert.equal(r.alpn, 'acme-tls/1');
      assert.equal(r.leaf?.subjectAltName, 'DNS:alpn.test');
      assert.ok(r.leaf?.raw.includes(ACME_IDENTIFIER_OID), 'the challenge certificate (acmeIdentifier extension)');
    }
    assert.equal(asked.filter((n) => n === 'alpn.test').length, 20, 'each validation handshake asked the primary');
    // No pending challenge: the default certificate.
    const none = await handshake(port, 'other.test', ['acme-tls/1']);
    assert.equal(none.leaf?.subjectAltName, 'DNS:passerelle.invalid');
    // Ordinary clients on the same listener: h2 and a proxied request, from both threads.
    assert.equal((await handshake(port, 'app.test', ['h2', 'http/1.1'])).alpn, 'h2');
    const before = await counts(pool);
    for (let i = 0; i < 20; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: HOST, port, path: '/', agent: false, servername: 'app.test', rejectUnauthorized: false, headers: { host: 'app.test' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
    }
    const d = delta(before, await counts(pool));
    assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
  } finally {
    await pool.stop(1000);
    a.server.close();
  }
});

test('workers = 2: onDemand asks the primary once; the certificate it adds is served by every thread at once', async () => {
  const a = await upstream('A');
  const issued = await generateDefaultCertificate();
  const asked: string[] = [];
  const port = await freePort();
  const pool: WorkerPool = createNativeWorkerPool({
    workers: 2,
    onUnknownServerName: async (name) => {
      asked.push(name);
      if (name !== 'ondemand.test') return false;
      // The "order" takes a moment: concurrent handshakes on both threads wait for it.
      await new Promise((r) => setTimeout(r, 300));
      return pool.addCertificate({ id: 'ondemand', hosts: ['ondemand.test'], certPem: issued.certPem, keyPem: issued.keyPem, source: { kind: 'AcmeCertificate', name: 'ondemand.test' } });
    },
  });
  const issuedFingerprint = new X509Certificate(issued.certPem).fingerprint256;
  try {
    await pool.apply(tlsModel(port, a.port));
    const defaultFingerprint = (await handshake(port, 'refused.test', ['http/1.1'])).leaf?.fingerprint256;
    assert.notEqual(defaultFingerprint, issuedFingerprint);
    assert.deepEqual(asked, ['refused.test']);
    // The first handshake waits for the primary and is served the certificate it added.
    assert.equal((await handshake(port, 'ondemand.test', ['http/1.1'])).leaf?.fingerprint256, issuedFingerprint);
    // Every later handshake, on either thread, finds it in its own table: the primary is not asked again.
    for (let i = 0; i < 20; i++) assert.equal((await handshake(port, 'ondemand.test', ['http/1.1'])).leaf?.fingerprint256, issuedFingerprint, `handshake ${i}`);
    assert.deepEqual(asked, ['refused.test', 'ondemand.test']);
    // A later apply (the model without it) keeps it in every thread.
    await pool.apply(tlsModel(port, a.port));
    for (let i = 0; i < 10; i++) assert.equal((await handshake(port, 'ondemand.test', ['http/1.1'])).leaf?.fingerprint256, issuedFingerprint, `after apply ${i}`);
    assert.deepEqual(asked, ['refused.test', 'ondemand.test']);
  } finally {
    await pool.stop(1000);
    a.server.close();
  }
});

test('workers = 2 through `run`: /metrics counts the requests of both worker threads', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'passerelle-workers-metrics-'));
  const a = await upstream('A');
  const [entry, webPort] = [await freePort(), await freePort()];
  await writeFile(
    path.join(dir, 'objects.yaml'),
    `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: passerelle
  annotations: { ingressclass.kubernetes.io/is-default-class: "true" }
spec: { controller: passerelle.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: i, namespace: ns }
spec:
  rules:
    - host: app.test
      http:
        paths: [{ path: /, pathType: Prefix, backend: { service: { name: a, port: { number: 80 } } } }]
---
apiVersion: v1
kind: Service
metadata: { name: a, namespace: ns }
spec:
  ports: [{ name: http, port: 80, targetPort: ${a.port} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: a-1, namespace: ns, labels: { kubernetes.io/service-name: a } }
addressType: IPv4
ports: [{ name: http, port: ${a.port} }]
endpoints: [{ addresses: ["${HOST}"], conditions: { ready: true } }]
`,
  );
  const file = path.join(dir, 'passerelle.toml');
  await writeFile(
    file,
    `[entryPoints.web]
address = "${HOST}:${entry}"
[proxy]
mode = "native"
workers = 2
gracePeriod = "1s"
[file]
directory = ${JSON.stringify(dir)}
watch = false
[web]
address = "${HOST}:${webPort}"
`,
  );
  const running = await startController(parseFlags(['run', '--web', `--configfile=${file}`]), process.env['PASSERELLE_TEST_LOG'] ? undefined : silentLogger);
  t.after(async () => {
    await running.stop();
    a.server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const pool = running.driver;
  assert.ok(pool instanceof WorkerPool);
  const total = async (): Promise<number> => {
    const body = await (await fetch(`http://${HOST}:${webPort}/metrics`)).text();
    let n = 0;
    for (const m of body.matchAll(/^passerelle_requests_total\{[^}]*\} (\S+)$/gm)) n += Number(m[1]);
    return n;
  };
  assert.equal(await total(), 0);
  const before = await counts(pool);
  const sent = 60;
  // Each on a new connection, ten at a time: the kernel spreads them over both threads.
  for (let i = 0; i < sent; i += 10) {
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(entry)));
    for (const r of answers) assert.deepEqual(r, { status: 200, body: 'A' });
  }
  const d = delta(before, await counts(pool));
  assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
  // Records arrive in batches within ~100 ms.
  const deadline = Date.now() + 5000;
  let counted = await total();
  while (counted < sent && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    counted = await total();
  }
  assert.equal(counted, sent, `passerelle_requests_total counts every worker's requests (by worker: ${d.join(', ')})`);
});

test('workers = 2: a route limit holds for the process, not per thread (limits.rps burst, limits.connections)', async () => {
  // A slow upstream keeps requests in progress for the connection limit.
  const slow = createServer((_req, res) => setTimeout(() => res.end('S'), 400));
  await new Promise<void>((resolve) => slow.listen(0, HOST, resolve));
  try {
    await withPool(async (pool, port) => {
      const base = model(port, 'a', (slow.address() as AddressInfo).port);
      const route = base.virtualHosts[0]!.routes[0]!;
      const limited = (limits: { rps?: number; connections?: number }): RoutingModel => ({
        ...base,
        virtualHosts: [{ ...base.virtualHosts[0]!, routes: [{ ...route, policy: { limits } }] }],
      });
      // rps 2: a burst of 10 (5x, as ingress-nginx), then 503; 24 requests on new connections spread over both threads.
      await pool.apply(limited({ rps: 2 }));
      const before = await counts(pool);
      const statuses = await Promise.all(Array.from({ length: 24 }, () => get(port).then((r) => r.status)));
      const d = delta(before, await counts(pool));
      assert.ok(d[0]! > 0 && d[1]! > 0, `both workers served: ${d.join(', ')}`);
      assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 503).length, 14);
      // connections 3: of 12 concurrent requests on new connections, 3 are in progress at once, the others get 503.
      await pool.apply(limited({ connections: 3 }));
      const concurrent = await Promise.all(Array.from({ length: 12 }, () => get(port).then((r) => r.status)));
      assert.equal(concurrent.filter((s) => s === 200).length, 3, `statuses ${concurrent.join(',')}`);
      // Released when they end: the next three go through.
      const after = await Promise.all(Array.from({ length: 3 }, () => get(port).then((r) => r.status)));
      assert.deepEqual(after, [200, 200, 200]);
    });
  } finally {
    slow.close();
  }
});

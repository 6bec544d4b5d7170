/*
 * `[proxy] workers`: the native proxy on two worker threads sharing the listening address
 * (SO_REUSEPORT), with real HTTP clients. Each request opens its own connection (agent: false), so
 * the kernel spreads them over both threads; the pool's per-worker request counters tell which
 * thread served (a debugging counter, nothing in the answers).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestRecord } from '../../src/drivers/types.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { createNativeWorkerPool } from '../../src/drivers/native/workers.ts';
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

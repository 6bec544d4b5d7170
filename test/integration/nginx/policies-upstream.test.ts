/*
 * Upstream-level and access route policies with a real nginx: the golden policy model passes nginx -t;
 * external auth through auth_request (forged auth headers never reach the pod, the internal location
 * is not reachable from outside, a host that does not resolve denies its routes, not the reload);
 * gRPC over h2 (grpc_pass, trailers, grpc_set_header); least_conn variants (ewma too) and retries;
 * cookie affinity maps that never send a request to an address a client writes; the www redirect.
 * Clients and pods are real (node:http2 for gRPC framing and trailers).
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { connect as http2Connect, createSecureServer as createH2SecureServer, createServer as createH2Server } from 'node:http2';
import type { ServerHttp2Stream } from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { createNginxDriver } from '../../../src/drivers/nginx/index.ts';
import type { NginxDriver } from '../../../src/drivers/nginx/index.ts';
import type { RoutePolicy } from '../../../src/model/policy.ts';
import type { Certificate, Endpoint, Route } from '../../../src/model/types.ts';
import { signinLocation } from '../../../src/drivers/native/external-auth.ts';
import { wwwLocation } from '../../../src/drivers/native/policy.ts';
import { renderNginx } from '../../../src/render/nginx/index.ts';
import { affinityToken } from '../../../src/render/nginx/upstream.ts';
import { backend, echoOf, entryPoint, freePort, model, nextLoopback, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary } from '../haproxy/common.ts';
import { policyModel } from './policy-model.ts';

requireBinary('nginx');

const HOST = 'up.test';
const withPolicy = (r: Route, policy: RoutePolicy): Route => ({ ...r, policy });

function driver(t: TestContext): NginxDriver {
  const d = createNginxDriver({ gracePeriodMs: 1000, workerProcesses: 1 });
  t.after(() => d.stop(500));
  return d;
}

async function listening(t: TestContext, server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; close(): unknown }, host = nextLoopback()): Promise<Endpoint> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => server.close());
  const a = server.address() as { port: number };
  return { address: host, port: a.port, weight: 1 };
}

async function certificate(): Promise<{ cert: string; key: string; model: Certificate }> {
  const pems = await generate([{ name: 'commonName', value: HOST }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: HOST }] }] });
  return { cert: pems.cert, key: pems.private, model: { id: 'default/up', hosts: [HOST], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: 'up' } } };
}

test('nginx -t accepts the rendering of the golden policy model (variants, affinity maps, auth and sign-in locations, gRPC)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'passerelle-nginx-policies-'));
  try {
    const r = renderNginx(policyModel(), { workDir: dir, headersMoreModule: null, resolvesHost: (h) => h !== 'auth.test' });
    for (const f of [r.main, ...r.files]) {
      mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
      writeFileSync(path.join(dir, f.path), f.content);
    }
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    mkdirSync(path.join(dir, 'certs'), { recursive: true });
    spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=default', '-days', '2', '-keyout', path.join(dir, 'certs/default.key'), '-out', path.join(dir, 'certs/default.crt')]);
    const check = spawnSync('nginx', ['-t', '-c', path.join(dir, 'nginx.conf'), '-p', `${dir}/`, '-e', 'stderr'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.ok(r.diagnostics.some((d) => d.code === 'PASS_NGINX_AUTH_HOST' && d.severity === 'error' && d.message.includes('auth.test')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An auth service: the `x-token` header decides; every request it gets is recorded. */
async function authService(t: TestContext, host = nextLoopback()): Promise<{ endpoint: Endpoint; seen: { url: string; method: string; headers: IncomingHttpHeaders; body: string }[] }> {
  const seen: { url: string; method: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      const token = req.headers['x-token'];
      if (token === 'good') res.writeHead(200, { 'x-user': 'alice', 'x-email': 'alice@up.test' }).end();
      else if (token === 'anonymous') res.writeHead(204).end();
      else if (token === 'forbidden') res.writeHead(403).end('no');
      else if (token === 'broken') res.writeHead(500).end('oops');
      else if (token === 'teapot') res.writeHead(418).end('tea');
      else res.writeHead(401, { 'www-authenticate': 'Bearer realm="up"' }).end('who?');
    });
  });
  return { endpoint: await listening(t, server, host), seen };
}

test('nginx externalAuth: 2xx passes with the answer headers (a forged one never reaches the pod), 401/403 answered, anything else 500; the auth location is internal', async (t) => {
  const d = driver(t);
  const [site] = await echoes(t, 'site');
  const auth = await authService(t);
  const port = await freePort();
  const deadPort = await freePort();
  const url = `http://${auth.endpoint.address}:${auth.endpoint.port}/verify?realm=up`;
  await d.apply(
    model({
      entryPoints: [entryPoint('web', port)],
      virtualHosts: [
        vhost(HOST, [
          route('/', 'Prefix', 'site'),
          withPolicy(route('/app', 'Prefix', 'site'), { externalAuth: { url, responseHeaders: ['X-User', 'X-Email'] } }),
          withPolicy(route('/sso', 'Prefix', 'site'), { externalAuth: { url, responseHeaders: [], signin: 'https://login.test/start#top' } }),
          withPolicy(route('/sso-q', 'Prefix', 'site'), { externalAuth: { url, responseHeaders: [], signin: 'https://login.test/start?client=up' } }),
          withPolicy(route('/down', 'Prefix', 'site'), { externalAuth: { url: `http://127.0.0.1:${deadPort}/`, responseHeaders: [] } }),
        ]),
      ],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const ask = (p: string, headers: Record<string, string> = {}, method = 'GET', body?: string) => request({ port, host: HOST, path: p, headers, method, ...(body === undefined ? {} : { body }) });

  const ok = await ask('/app/x?y=1', { 'x-token': 'good', 'x-user': 'mallory' }, 'POST', 'payload');
  const e = echoOf(ok);
  assert.equal(e.headers['x-user'], 'alice', 'the auth answer replaces the client header');
  assert.equal(e.headers['x-email'], 'alice@up.test');
  assert.equal(e.method, 'POST');
  const asked = auth.seen.at(-1)!;
  assert.equal(asked.url, '/verify?realm=up');
  assert.equal(asked.body, '', 'the body is not sent to the auth service');
  assert.equal(asked.headers['content-length'], undefined);
  assert.equal(asked.headers['x-original-url'], `http://${HOST}/app/x?y=1`);
  assert.equal(asked.method, 'POST', 'the original method');
  assert.equal(asked.headers['x-original-method'], 'POST');
  assert.equal(asked.headers['x-auth-request-redirect'], '/app/x?y=1');
  assert.equal(asked.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(asked.headers['x-real-ip'], '127.0.0.1');
  assert.equal(asked.headers['x-token'], 'good', 'the client headers go to the auth service');

  // The auth answer lacks X-User: the client's own never reaches the pod.
  const anon = echoOf(await ask('/app/', { 'x-token': 'anonymous', 'x-user': 'mallory', 'x-email': 'forged@evil.test' }));
  assert.equal(anon.headers['x-user'], undefined);
  assert.equal(anon.headers['x-email'], undefined);

  const denied = await ask('/app/', { 'x-user': 'mallory' });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers['www-authenticate'], 'Bearer realm="up"');
  assert.equal((await ask('/app/', { 'x-token': 'forbidden' })).status, 403);
  assert.equal((await ask('/app/', { 'x-token': 'broken' })).status, 500);
  assert.equal((await ask('/app/', { 'x-token': 'teapot' })).status, 500);
  assert.equal((await ask('/down/', { 'x-token': 'good' })).status, 500, 'the auth service down: 500');
  assert.equal(echoOf(await ask('/other')).url, '/other', 'other routes ask nothing');

  // The internal location: not reachable from outside, whatever the spelling of its path.
  const before = auth.seen.length;
  for (const p of ['/_pass%7Cauth%7C0', '/_pass|auth|0', '/_pass%7cauth%7c0?x']) {
    const r = await ask(p, { 'x-token': 'good' });
    assert.notEqual(r.status, 200, p);
    assert.equal(r.headers['x-user'], undefined, p);
  }
  assert.equal(auth.seen.length, before, 'no request reached the auth service through its internal location');

  // Sign-in: a 401 becomes a 302 with the original URL escaped exactly as native signinLocation escapes it.
  for (const p of ['/sso/a%20b?x=1&y=a+b&z=%26', "/sso/x/y.z-_~!*'()?q=a:b@c,d;e$f[g]h{i}j|k^l`m\"%22", '/sso']) {
    const s = await ask(p);
    assert.equal(s.status, 302, p);
    assert.equal(s.headers.location, signinLocation('https://login.test/start#top', `http://${HOST}${p}`), p);
    assert.equal(new URL(s.headers.location ?? '').searchParams.get('rd'), `http://${HOST}${p}`, p);
  }
  const q = await request({ port, host: `${HOST}:${port}`, path: '/sso-q/p?a=1&b=2' });
  assert.equal(q.headers.location, signinLocation('https://login.test/start?client=up', `http://${HOST}:${port}/sso-q/p?a=1&b=2`));
  assert.equal((await ask('/sso/', { 'x-token': 'forbidden' })).status, 403, 'only 401 signs in');
  assert.equal(echoOf(await ask('/sso/', { 'x-token': 'good' })).url, '/sso/');
  // Many characters to escape: the rd parameter reads back whole, or is left out, never cut wrong.
  const many = `/sso/?${Array.from({ length: 30 }, (_, i) => `k${i}=v`).join('&')}`;
  const m = new URL((await ask(many)).headers.location ?? '');
  assert.ok(m.searchParams.get('rd') === null || m.searchParams.get('rd') === `http://${HOST}${many}`, m.href);
});

test('nginx externalAuth: a host name that does not resolve denies its routes (PASS_NGINX_AUTH_HOST), the rest is applied; one that resolves works', async (t) => {
  const d = driver(t);
  const [site] = await echoes(t, 'site');
  const auth = await authService(t, '127.0.0.1');
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('web', port)],
      virtualHosts: [
        vhost(HOST, [
          route('/', 'Prefix', 'site'),
          withPolicy(route('/lost', 'Prefix', 'site'), { externalAuth: { url: 'http://no-such-auth.invalid/verify', responseHeaders: [] } }),
          // localhost resolves (from /etc/hosts, as nginx resolves it when it loads the configuration).
          withPolicy(route('/named', 'Prefix', 'site'), { externalAuth: { url: `http://localhost:${auth.endpoint.port}/verify`, responseHeaders: ['X-User'] } }),
        ]),
      ],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const lost = await request({ port, host: HOST, path: '/lost/x', headers: { 'x-token': 'good' } });
  assert.equal(lost.status, 503);
  assert.match(lost.text, /external auth host no-such-auth\.invalid does not resolve/);
  assert.equal(echoOf(await request({ port, host: HOST, path: '/plain' })).url, '/plain', 'the other routes are served');
  assert.equal(echoOf(await request({ port, host: HOST, path: '/named/', headers: { 'x-token': 'good' } })).headers['x-user'], 'alice');
  assert.equal((await request({ port, host: HOST, path: '/named/' })).status, 401);
});

/** A gRPC-shaped answer: the request path, headers and protocol in the body, grpc-status in the trailers. */
function grpcAnswer(id: string, secure: boolean): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  return (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const payload = Buffer.from(
        JSON.stringify({ id, path: headers[':path'], authority: headers[':authority'] ?? `host:${String(headers.host)}`, secure, contentType: headers['content-type'], te: headers.te, tenant: headers['x-tenant'] ?? null, forwardedFor: headers['x-forwarded-for'] ?? null, request: Buffer.concat(chunks).subarray(5).toString() }),
      );
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
      frame.writeUInt32BE(payload.length, 1);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(frame);
    });
  };
}

/** One unary gRPC-shaped call over h2 with TLS and ALPN. */
async function grpcCall(url: string, path: string, message: string, extra: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  const session = http2Connect(url, { rejectUnauthorized: false, servername: HOST });
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': path, ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers', ...extra });
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      req.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
      });
      req.on('trailers', (h) => (trailers = h));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const all = Buffer.concat(chunks);
        const grpc = headers['content-type'] === 'application/grpc' && all.length > 5;
        resolve({ status, headers, trailers, body: grpc ? (JSON.parse(all.subarray(5).toString()) as Record<string, unknown>) : { text: all.toString() } });
      });
      req.on('error', reject);
      const payload = Buffer.from(message);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
      frame.writeUInt32BE(payload.length, 1);
      req.end(frame);
    });
  } finally {
    session.close();
  }
}

test('nginx upstream.grpc: gRPC over h2 (ALPN on the TLS entry point) reaches an h2c pod and a TLS h2 pod with trailers; headers, timeouts and a rewrite go through grpc_*', async (t) => {
  const d = driver(t);
  const cert = await certificate();
  const h2c = createH2Server();
  h2c.on('stream', grpcAnswer('h2c-pod', false));
  const h2s = createH2SecureServer({ cert: cert.cert, key: cert.key });
  h2s.on('stream', grpcAnswer('h2-tls-pod', true));
  const slow = createH2Server();
  slow.on('stream', (stream) => setTimeout(() => stream.destroyed || stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { endStream: true }), 1500));
  const [grpcEp, grpcsEp, slowEp] = [await listening(t, h2c), await listening(t, h2s), await listening(t, slow)];
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('websecure', port, { tls: true })],
      virtualHosts: [
        vhost(
          HOST,
          [
            withPolicy(route('/grpc.Echo', 'Prefix', 'grpc'), { upstream: { protocol: 'grpc' }, headers: { request: { 'X-Tenant': 'blue' }, response: { 'X-Frame-Options': 'DENY' } } }),
            withPolicy(route('/grpcs.Echo', 'Prefix', 'grpcs'), { upstream: { protocol: 'grpcs' } }),
            withPolicy(route('/old.Echo', 'Prefix', 'grpc'), { upstream: { protocol: 'grpc' }, rewrite: { kind: 'prefix', target: '/new.Echo' } }),
            withPolicy(route('/slow.Echo', 'Prefix', 'slow'), { upstream: { protocol: 'grpc' }, timeouts: { read: 300 } }),
          ],
          'default/up',
        ),
      ],
      backends: [backend('grpc', [grpcEp]), backend('grpcs', [grpcsEp]), backend('slow', [slowEp])],
      certificates: [cert.model],
    }),
  );
  const url = `https://127.0.0.1:${port}`;
  const plain = await grpcCall(url, '/grpc.Echo/Say', 'hello', { 'x-tenant': 'forged' });
  assert.equal(plain.status, 200);
  // nginx sends the request's host as `host` (grpc_set_header Host): without it, :authority would be the upstream name.
  assert.deepEqual(
    plain.body,
    { id: 'h2c-pod', path: '/grpc.Echo/Say', authority: `host:${HOST}`, secure: false, contentType: 'application/grpc', te: 'trailers', tenant: 'blue', forwardedFor: '127.0.0.1', request: 'hello' },
  );
  assert.equal(plain.trailers['grpc-status'], '0', 'the trailers come through');
  assert.equal(plain.headers['x-frame-options'], 'DENY');
  const tls = await grpcCall(url, '/grpcs.Echo/Say', 'over tls');
  assert.equal(tls.body['id'], 'h2-tls-pod');
  assert.equal(tls.body['request'], 'over tls');
  assert.equal(tls.trailers['grpc-message'], 'ok');
  const moved = await grpcCall(url, '/old.Echo/Say', 'moved');
  assert.equal(moved.body['path'], '/new.Echo/Say', 'the rewrite applies to grpc_pass');
  const late = await grpcCall(url, '/slow.Echo/Say', 'late');
  assert.equal(late.status, 504, 'the route read timeout is grpc_read_timeout');
  // HTTP/1.1 clients keep working on the same TLS entry point.
  assert.equal((await request({ port, tls: true, host: HOST, path: '/grpc.Echo/Say' })).status !== 0, true);
});

test('nginx upstream.loadBalance: least_conn (and ewma, applied as least_conn) sends requests away from a busy endpoint; round robin does not; retries still apply to the variant', async (t) => {
  const d = driver(t);
  const [a, b] = await echoes(t, 'a', 'b');
  const dead: Endpoint = { address: nextLoopback(), port: await freePort(), weight: 1 };
  const port = await freePort();
  const routes = [
    withPolicy(route('/lc', 'Prefix', 'pool'), { upstream: { loadBalance: 'least_conn' }, rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/ewma', 'Prefix', 'pool'), { upstream: { loadBalance: 'ewma' }, rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/rr', 'Prefix', 'pool'), { upstream: { loadBalance: 'round_robin' }, rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/once', 'Prefix', 'flaky'), { upstream: { loadBalance: 'least_conn', tries: 1 } }),
    withPolicy(route('/twice', 'Prefix', 'flaky'), { upstream: { loadBalance: 'least_conn', tries: 2 } }),
  ];
  const apply = (pool: readonly Endpoint[]) =>
    d.apply(model({ entryPoints: [entryPoint('web', port)], virtualHosts: [vhost(HOST, routes)], backends: [backend('pool', pool), backend('flaky', [dead, b!.endpoint()])] }));
  await apply([a!.endpoint(), b!.endpoint()]);
  const who = async (p: string): Promise<string> => echoOf(await request({ port, host: HOST, path: p })).id;
  for (const p of ['/lc', '/ewma']) {
    const busy = request({ port, host: HOST, path: `${p}/__slow/1200` });
    await new Promise((r) => setTimeout(r, 200));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await who(`${p}/x`));
    const slowId = echoOf(await busy).id;
    assert.equal(seen.size, 1, `${p}: every request while one is in flight goes to the other endpoint (${[...seen].join(',')})`);
    assert.ok(!seen.has(slowId), `${p}: not to the busy one`);
  }
  {
    const busy = request({ port, host: HOST, path: '/rr/__slow/1200' });
    await new Promise((r) => setTimeout(r, 200));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await who('/rr/x'));
    await busy;
    assert.deepEqual([...seen].sort(), ['a', 'b'], 'round robin takes turns, busy or not');
  }
  // Retries: with one attempt a dead endpoint fails some requests; with two, none.
  const once: number[] = [];
  const twice: number[] = [];
  for (let i = 0; i < 6; i++) once.push((await request({ port, host: HOST, path: '/once/' })).status);
  for (let i = 0; i < 6; i++) twice.push((await request({ port, host: HOST, path: '/twice/' })).status);
  assert.ok(once.includes(502), `tries 1: ${once.join(',')}`);
  assert.deepEqual(twice, [200, 200, 200, 200, 200, 200]);
  // The variant follows the backend's endpoints (nginx reloads on every change).
  const [c] = await echoes(t, 'c');
  await apply([c!.endpoint()]);
  assert.equal(await who('/lc/x'), 'c');
  assert.equal(await who('/ewma/x'), 'c');
});

test('nginx upstream.affinity: the cookie only ever names an endpoint of the backend; a client-written address or another backend token is a new pick; a failed pinned endpoint moves the session', async (t) => {
  const d = driver(t);
  const [a, b, outsider, other] = await echoes(t, 'a', 'b', 'outsider', 'other');
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('web', port)],
      virtualHosts: [
        vhost(HOST, [
          withPolicy(route('/sticky', 'Prefix', 'pool'), { upstream: { affinity: { cookie: 'route', sameSite: 'Lax' }, tries: 2 } }),
          withPolicy(route('/elsewhere', 'Prefix', 'other'), { upstream: { affinity: { cookie: 'route' } } }),
        ]),
      ],
      backends: [backend('pool', [a!.endpoint(), b!.endpoint()]), backend('other', [other!.endpoint()])],
    }),
  );
  const first = await request({ port, host: HOST, path: '/sticky/x' });
  const cookie = first.headers['set-cookie']?.[0] ?? '';
  assert.match(cookie, /^route=[0-9a-f]{16}; Path=\/sticky; SameSite=Lax; HttpOnly$/);
  const pinned = echoOf(first).id;
  const token = cookie.slice('route='.length, 'route='.length + 16);
  const ep = pinned === 'a' ? a! : b!;
  assert.equal(token, affinityToken(ep.host, ep.port), 'the token is the digest of the endpoint, as native');
  // Values a client may write: an address (of a server outside the backend), the outsider's token, an upstream name.
  const forged = [`${outsider!.host}:${outsider!.port}`, affinityToken(outsider!.host, outsider!.port), affinityToken(other!.host, other!.port), 'be_default.other_80', `x; route=${outsider!.host}:${outsider!.port}`];
  for (const value of forged) {
    for (let i = 0; i < 3; i++) {
      const r = await request({ port, host: HOST, path: '/sticky/', headers: { cookie: `route=${value}` } });
      assert.ok(['a', 'b'].includes(echoOf(r).id), `${value}: served by the backend`);
      assert.ok(r.headers['set-cookie']?.[0]?.startsWith('route='), `${value}: a new cookie`);
    }
  }
  // The pinned endpoint fails: its backup answers and the cookie follows it.
  await ep.close();
  const moved = await request({ port, host: HOST, path: '/sticky/', headers: { cookie: `route=${token}` } });
  const now = echoOf(moved).id;
  assert.notEqual(now, pinned);
  const survivor = now === 'a' ? a! : b!;
  assert.equal(moved.headers['set-cookie']?.[0], `route=${affinityToken(survivor.host, survivor.port)}; Path=/sticky; SameSite=Lax; HttpOnly`);
});

test('nginx wwwRedirect: the other name of a host redirects to the same scheme on the host, the path and query kept', async (t) => {
  const d = driver(t);
  const [site] = await echoes(t, 'site');
  const cert = await certificate();
  const [http, https] = [await freePort(), await freePort()];
  await d.apply(
    model({
      entryPoints: [entryPoint('web', http), entryPoint('websecure', https, { tls: true })],
      virtualHosts: [vhost(HOST, [route('/', 'Prefix', 'site')], 'default/up'), vhost(`www.${HOST}`, [withPolicy(route('/', 'Prefix', 'site'), { wwwRedirect: { host: HOST, status: 308 } })], 'default/up')],
      backends: [backend('site', [site!.endpoint()])],
      certificates: [cert.model],
    }),
  );
  const r = await request({ port: http, host: `www.${HOST}`, path: '/a/b?c=1&d=%20' });
  assert.equal(r.status, 308);
  // The entry point's public port is kept (as native wwwLocation), left out when it is the scheme's default.
  assert.equal(r.headers.location, wwwLocation({ host: HOST, status: 308 }, { tls: false, publicPort: http, host: `www.${HOST}`, target: '/a/b?c=1&d=%20' }));
  assert.equal(r.headers.location, `http://${HOST}:${http}/a/b?c=1&d=%20`);
  const s = await request({ port: https, tls: true, host: `www.${HOST}`, path: '/x' });
  assert.equal(s.status, 308);
  assert.equal(s.headers.location, `https://${HOST}:${https}/x`);
  const rendered = renderNginx(model({ entryPoints: [entryPoint('web', 80)], virtualHosts: [vhost(`www.${HOST}`, [withPolicy(route('/', 'Prefix', 'site'), { wwwRedirect: { host: HOST, status: 301 } })])], backends: [backend('site', [site!.endpoint()])] }), { workDir: '/tmp/x' });
  assert.match(rendered.main.content, /return 301 "http:\/\/up\.test\$\{request_uri\}";/, 'no :80 on the default port');
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/a' })).url, '/a');
});

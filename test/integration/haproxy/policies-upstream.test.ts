/*
 * Upstream route policies with a real HAProxy: backend-level settings (TLS and h2 to the pod, balance,
 * cookie affinity, retries, connect timeout) go to variant backends that follow endpoint changes through
 * the runtime API as their base does (no reload); gRPC over h2 end to end; Regex routes in their order;
 * the www redirect. Clients and pods are real (node:http2 for gRPC framing and trailers).
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect as http2Connect, createSecureServer as createH2SecureServer, createServer as createH2Server } from 'node:http2';
import type { Http2Server, Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { createHaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import type { HaproxyDriver } from '../../../src/drivers/haproxy/index.ts';
import type { RoutePolicy } from '../../../src/model/policy.ts';
import type { Backend, Certificate, Endpoint, Route, RoutingModel } from '../../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, model, nextLoopback, request, route, vhost } from '../../behaviour/harness.ts';
import { echoes, requireBinary } from './common.ts';

requireBinary('haproxy');

const HOST = 'up.test';
const withPolicy = (r: Route, policy: RoutePolicy): Route => ({ ...r, policy });

function driver(t: TestContext): HaproxyDriver {
  const d = createHaproxyDriver({ gracePeriodMs: 1000 });
  t.after(() => d.stop(500));
  return d;
}

async function certificate(): Promise<{ cert: string; key: string; model: Certificate }> {
  const pems = await generate([{ name: 'commonName', value: HOST }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: HOST }, { type: 2 as const, value: `www.${HOST}` }] }] });
  return { cert: pems.cert, key: pems.private, model: { id: 'default/up', hosts: [HOST, `www.${HOST}`], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: 'up' } } };
}

async function listening<T extends { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; close(): unknown }>(t: TestContext, server: T, host = nextLoopback()): Promise<Endpoint> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(() => server.close());
  const a = server.address() as { port: number };
  return { address: host, port: a.port, weight: 1 };
}

/** A pod that speaks only TLS (HTTP/1.1), answering who it is and the SNI it was asked with. */
async function tlsPod(t: TestContext, id: string, pems: { cert: string; key: string }): Promise<Endpoint> {
  const server = createHttpsServer({ cert: pems.cert, key: pems.key }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id, url: req.url, sni: (req.socket as TLSSocket).servername || null, host: req.headers.host }));
  });
  return listening(t, server);
}

/** A gRPC-shaped answer: the request path and protocol in the body, grpc-status in the trailers. */
function grpcAnswer(id: string, secure: boolean): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  return (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const payload = Buffer.from(JSON.stringify({ id, path: headers[':path'], secure, contentType: headers['content-type'], te: headers.te, request: Buffer.concat(chunks).subarray(5).toString() }));
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
      frame.writeUInt32BE(payload.length, 1);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(frame);
    });
  };
}

/** One unary gRPC-shaped call over h2 (TLS with ALPN, or cleartext prior knowledge). */
async function grpcCall(url: string, path: string, message: string): Promise<{ status: number; trailers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  const session = http2Connect(url, { rejectUnauthorized: false, servername: HOST });
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': path, ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers' });
      let status = 0;
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('trailers', (h) => (trailers = h));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => {
        const all = Buffer.concat(chunks);
        try {
          resolve({ status, trailers, body: JSON.parse(all.subarray(5).toString()) as Record<string, unknown> });
        } catch {
          reject(new Error(`not a gRPC answer (status ${status}): ${all.toString()}`));
        }
      });
      const msg = Buffer.from(message);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), msg]);
      frame.writeUInt32BE(msg.length, 1);
      req.end(frame);
    });
  } finally {
    session.close();
  }
}

test('haproxy upstream.grpc: gRPC over h2 (ALPN on the TLS entry point, prior knowledge on the plain one) reaches an h2c pod and a TLS h2 pod, trailers included', async (t) => {
  const d = driver(t);
  const pems = await certificate();
  const h2c: Http2Server = createH2Server();
  h2c.on('stream', grpcAnswer('h2c-pod', false));
  const h2s: Http2SecureServer = createH2SecureServer({ cert: pems.cert, key: pems.key });
  h2s.on('stream', grpcAnswer('h2-tls-pod', true));
  const [grpcEp, grpcsEp] = [await listening(t, h2c), await listening(t, h2s)];
  const [http, https] = [await freePort(), await freePort()];
  await d.apply(
    model({
      entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
      virtualHosts: [vhost(HOST, [withPolicy(route('/grpc.Echo', 'Prefix', 'grpc'), { upstream: { protocol: 'grpc' } }), withPolicy(route('/grpcs.Echo', 'Prefix', 'grpcs'), { upstream: { protocol: 'grpcs' } })], 'default/up')],
      backends: [backend('grpc', [grpcEp!]), backend('grpcs', [grpcsEp!])],
      certificates: [pems.model],
    }),
  );
  for (const url of [`https://127.0.0.1:${https}`, `http://127.0.0.1:${http}`]) {
    const plain = await grpcCall(url, '/grpc.Echo/Say', 'hello');
    assert.equal(plain.status, 200, url);
    assert.deepEqual(plain.body, { id: 'h2c-pod', path: '/grpc.Echo/Say', secure: false, contentType: 'application/grpc', te: 'trailers', request: 'hello' }, url);
    assert.equal(plain.trailers['grpc-status'], '0', `${url}: the trailers come through`);
    const tls = await grpcCall(url, '/grpcs.Echo/Say', 'over tls');
    assert.equal(tls.body['id'], 'h2-tls-pod', url);
    assert.equal(tls.body['request'], 'over tls');
    assert.equal(tls.trailers['grpc-message'], 'ok');
  }
  const config = readFileSync(d.configFile, 'utf8');
  assert.match(config, /bind 127\.0\.0\.1:\d+ ssl crt .* alpn h2,http\/1\.1\n/, 'the TLS entry point offers h2');
  assert.match(config, / proto h2\n/);
  assert.match(config, / ssl verify none sni var\(txn\.host\) alpn h2\n/);
});

test('haproxy upstream.https: TLS to the pod with SNI (the upstream vhost, else the request host); an endpoint change reaches the variant without a reload', async (t) => {
  const d = driver(t);
  const pems = await certificate();
  const [p1, p2] = [await tlsPod(t, 'tls-1', pems), await tlsPod(t, 'tls-2', pems)];
  const port = await freePort();
  const build = (eps: readonly Endpoint[]): RoutingModel =>
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost(HOST, [withPolicy(route('/tls', 'Prefix', 'pods'), { upstream: { protocol: 'https' } }), withPolicy(route('/vhost', 'Prefix', 'pods'), { upstream: { protocol: 'https', vhost: 'inner.svc' } })])],
      backends: [backend('pods', eps)],
    });
  await d.apply(build([p1]));
  const ask = async (path: string): Promise<{ id: string; sni: string | null; host: string; url: string }> => {
    const r = await request({ port, host: HOST, path });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text) as { id: string; sni: string | null; host: string; url: string };
  };
  assert.deepEqual(await ask('/tls/a?b=1'), { id: 'tls-1', url: '/tls/a?b=1', sni: HOST, host: HOST });
  assert.deepEqual(await ask('/vhost/x'), { id: 'tls-1', url: '/vhost/x', sni: 'inner.svc', host: 'inner.svc' });
  // The pod moves: both variants follow through the runtime API.
  await d.apply(build([p2]));
  assert.equal((await ask('/tls')).id, 'tls-2');
  assert.equal((await ask('/vhost')).id, 'tls-2');
  assert.equal(d.reloads, 0, 'endpoint changes reach variant backends without a reload');
  assert.equal(d.runtimeUpdates, 1);
});

test('haproxy upstream.loadBalance: least_conn sends new requests away from an endpoint busy with a slow one; round_robin alternates; ewma is picked by the Lua action among the same slots', async (t) => {
  const d = driver(t);
  const [a, b] = await echoes(t, 'lb-a', 'lb-b');
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [
        vhost(HOST, [
          withPolicy(route('/least', 'Prefix', 'pool'), { upstream: { loadBalance: 'least_conn' }, rewrite: { kind: 'strip-prefix' } }),
          withPolicy(route('/ewma', 'Prefix', 'pool'), { upstream: { loadBalance: 'ewma' }, rewrite: { kind: 'strip-prefix' } }),
          withPolicy(route('/rr', 'Prefix', 'pool'), { upstream: { loadBalance: 'round_robin' }, rewrite: { kind: 'strip-prefix' } }),
        ]),
      ],
      backends: [backend('pool', [a!.endpoint(), b!.endpoint()])],
    }),
  );
  for (const prefix of ['/least']) {
    const slow = request({ port, host: HOST, path: `${prefix}/__slow/1200` });
    await new Promise((r) => setTimeout(r, 200));
    const quick: string[] = [];
    for (let i = 0; i < 4; i++) quick.push(echoOf(await request({ port, host: HOST, path: `${prefix}/x` })).id);
    const busy = echoOf(await slow).id;
    assert.equal(new Set(quick).size, 1, `${prefix}: every quick request goes to the idle endpoint: ${quick.join(',')}`);
    assert.notEqual(quick[0], busy, prefix);
  }
  const slow = request({ port, host: HOST, path: '/rr/__slow/800' });
  await new Promise((r) => setTimeout(r, 200));
  const quick = new Set<string>();
  for (let i = 0; i < 4; i++) quick.add(echoOf(await request({ port, host: HOST, path: '/rr/x' })).id);
  await slow;
  assert.deepEqual([...quick].sort(), ['lb-a', 'lb-b'], 'round robin: the busy endpoint gets its turns');
  const config = readFileSync(d.configFile, 'utf8');
  assert.match(config, /balance leastconn\n/);
  assert.match(config, /http-request lua\.pass_ewma be_default\.pool:80_v[0-9a-f]{8}\n/);
  // ewma (latency-weighted: the behaviour suite checks the choice): every request is served through the Lua pick.
  const ewma = new Set<string>();
  for (let i = 0; i < 12; i++) ewma.add(echoOf(await request({ port, host: HOST, path: '/ewma/x' })).id);
  assert.ok([...ewma].every((id) => id === 'lb-a' || id === 'lb-b'));
});

test('haproxy upstream.affinity: the cookie keeps naming its endpoint while others come and go through the runtime API; a gone endpoint gets a new pick', async (t) => {
  const d = driver(t);
  const [a, b, c] = await echoes(t, 'st-a', 'st-b', 'st-c');
  const port = await freePort();
  const build = (eps: readonly Endpoint[]): RoutingModel =>
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost(HOST, [withPolicy(route('/sticky', 'Prefix', 'pool'), { upstream: { affinity: { cookie: 'route', maxAgeSeconds: 60, sameSite: 'Lax' } } }), route('/', 'Prefix', 'pool')])],
      backends: [backend('pool', eps)],
    });
  await d.apply(build([a!.endpoint(), b!.endpoint()]));
  const first = await request({ port, host: HOST, path: '/sticky/x' });
  const setCookie = first.headers['set-cookie']?.find((s) => s.startsWith('route='));
  assert.match(setCookie ?? '', /^route=[0-9a-f]{16}; Path=\/sticky; Max-Age=60; SameSite=Lax; HttpOnly$/);
  const cookie = (setCookie ?? '').split(';')[0] ?? '';
  const pinned = echoOf(first).id;
  const mine = pinned === 'st-a' ? a! : b!;
  // The other endpoint goes, a new one comes: the pinned client stays, the new endpoint serves the variant.
  await d.apply(build([mine.endpoint(), c!.endpoint()]));
  for (let i = 0; i < 4; i++) {
    const r = await request({ port, host: HOST, path: '/sticky/x', headers: { cookie } });
    assert.equal(echoOf(r).id, pinned);
    assert.equal(r.headers['set-cookie'], undefined);
  }
  const spread = new Set<string>();
  for (let i = 0; i < 6; i++) spread.add(echoOf(await request({ port, host: HOST, path: '/sticky/x' })).id);
  assert.deepEqual([...spread].sort(), [pinned, 'st-c'].sort(), 'the new endpoint reached the variant backend');
  assert.equal(echoOf(await request({ port, host: HOST, path: '/plain' })).headers.cookie, undefined);
  // The pinned endpoint goes: a new pick and a new cookie.
  await d.apply(build([c!.endpoint()]));
  const moved = await request({ port, host: HOST, path: '/sticky/x', headers: { cookie } });
  assert.equal(echoOf(moved).id, 'st-c');
  assert.ok(moved.headers['set-cookie']?.some((s) => s.startsWith('route=') && !s.startsWith(cookie)), 'a new cookie');
  // It comes back (to its own slot): the old cookie names it again.
  await d.apply(build([mine.endpoint(), c!.endpoint()]));
  assert.equal(echoOf(await request({ port, host: HOST, path: '/sticky/x', headers: { cookie } })).id, pinned);
  assert.equal(d.reloads, 0, 'every change went through the runtime API');
});

/** A pod that accepts connections and closes them on the first bytes, without an answer. */
async function closingPod(t: TestContext): Promise<Endpoint> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('data', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  return listening(t, server);
}

test('haproxy upstream.tries: tries 1 never retries; more tries retry a refused connection and an empty answer on another endpoint', async (t) => {
  const d = driver(t);
  const [live] = await echoes(t, 'live');
  const refused: Endpoint = { address: nextLoopback(), port: await freePort(), weight: 1 };
  const closing = await closingPod(t);
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [
        vhost(HOST, [
          withPolicy(route('/once', 'Prefix', 'refusing'), { upstream: { tries: 1 } }),
          withPolicy(route('/twice', 'Prefix', 'refusing'), { upstream: { tries: 2 } }),
          withPolicy(route('/empty-once', 'Prefix', 'closing'), { upstream: { tries: 1 } }),
          withPolicy(route('/empty-twice', 'Prefix', 'closing'), { upstream: { tries: 2 } }),
          route('/empty-default', 'Prefix', 'closing'),
        ]),
      ],
      backends: [backend('refusing', [refused, live!.endpoint()]), backend('closing', [closing, live!.endpoint()])],
    }),
  );
  const statuses = async (path: string): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < 6; i++) out.push((await request({ port, host: HOST, path })).status);
    return out;
  };
  const once = await statuses('/once');
  assert.ok(once.includes(200) && once.some((s) => s >= 502), `tries 1: the refused endpoint fails its turns: ${once.join(',')}`);
  assert.deepEqual(await statuses('/twice'), [200, 200, 200, 200, 200, 200]);
  const emptyOnce = await statuses('/empty-once');
  assert.ok(emptyOnce.includes(200) && emptyOnce.some((s) => s >= 502), `tries 1, an empty answer: ${emptyOnce.join(',')}`);
  assert.deepEqual(await statuses('/empty-twice'), [200, 200, 200, 200, 200, 200], 'an empty answer is retried elsewhere');
  const byDefault = await statuses('/empty-default');
  assert.ok(byDefault.some((s) => s >= 502), `without tries, an empty answer is not retried (retry-on conn-failure): ${byDefault.join(',')}`);
});

test('haproxy timeouts.connect: a pod that never completes the handshake fails after the route connect timeout, not the default one', async (t) => {
  const d = driver(t);
  // A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
  const host = nextLoopback();
  const py = spawn('python3', ['-c', `import socket,sys,time\ns=socket.socket()\ns.bind(('${host}',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(300)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill('SIGKILL'));
  const blackPort = await new Promise<number>((resolve) => py.stdout.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
  const fillers: Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  for (let i = 0; i < 3; i++) fillers.push(netConnect(blackPort, host).on('error', () => undefined));
  await new Promise((r) => setTimeout(r, 300));
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [vhost(HOST, [withPolicy(route('/', 'Prefix', 'hole'), { timeouts: { connect: 300 }, upstream: { tries: 1 } })])],
      backends: [backend('hole', [{ address: host, port: blackPort, weight: 1 }])],
    }),
  );
  const started = Date.now();
  const r = await request({ port, host: HOST, path: '/', timeoutMs: 8000 });
  const took = Date.now() - started;
  assert.ok(r.status >= 502 && r.status <= 504, `status ${r.status}`);
  assert.ok(took >= 250 && took < 2500, `failed after ${took} ms (connect timeout 300 ms; the default is 5 s)`);
  assert.match(readFileSync(d.configFile, 'utf8'), /timeout connect 300ms\n/);
});

test('haproxy Regex routes: Exact, then Regex in order, then Prefix; a regex route change is a runtime map update; the regex rewrite substitutes groups', async (t) => {
  const d = driver(t);
  const [ex, re1, re2, pre, other] = await echoes(t, 'exact', 're1', 're2', 'prefix', 'other');
  const port = await freePort();
  const build = (secondBackend: string): RoutingModel =>
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [
        vhost(HOST, [
          route('/img/logo.png', 'Exact', 'exact'),
          withPolicy(route('/img/([a-z]+)\\.(png|jpe?g)$', 'Regex', 're1'), { rewrite: { kind: 'regex', pattern: '/img/([a-z]+)\\.(png|jpe?g)$', target: '/static/$2/$1' } }),
          route('/img/.*', 'Regex', secondBackend),
          route('/img/keep', 'Prefix', 'prefix'),
          route('/', 'Prefix', 'prefix'),
        ]),
      ],
      backends: [backend('exact', [ex!.endpoint()]), backend('re1', [re1!.endpoint()]), backend('re2', [re2!.endpoint()]), backend('prefix', [pre!.endpoint()]), backend('other', [other!.endpoint()])],
    });
  await d.apply(build('re2'));
  const who = async (path: string): Promise<{ id: string; url: string }> => {
    const e = echoOf(await request({ port, host: HOST, path }));
    return { id: e.id, url: e.url };
  };
  assert.deepEqual(await who('/img/logo.png'), { id: 'exact', url: '/img/logo.png' });
  assert.deepEqual(await who('/img/cat.JPG?size=2'), { id: 're1', url: '/static/JPG/cat?size=2' });
  assert.deepEqual(await who('/IMG/dog.jpeg'), { id: 're1', url: '/static/jpeg/dog' });
  assert.deepEqual(await who('/img/cat.png.bak'), { id: 're2', url: '/img/cat.png.bak' }, '"$" anchors the end');
  assert.deepEqual(await who('/img/keep/x'), { id: 're2', url: '/img/keep/x' }, 'Regex before a longer Prefix');
  assert.deepEqual(await who('/imgx'), { id: 'prefix', url: '/imgx' });
  assert.deepEqual(await who('/x/img/a.png'), { id: 'prefix', url: '/x/img/a.png' }, 'from the start of the path');
  await d.apply(build('other'));
  assert.deepEqual(await who('/img/keep/x'), { id: 'other', url: '/img/keep/x' });
  assert.equal(d.reloads, 0, 'a Regex route changing its backend is a routing map update');
});

test('haproxy wwwRedirect: the other name answers the status with the scheme and port of its entry point, the host, path and query', async (t) => {
  const d = driver(t);
  const pems = await certificate();
  const [site] = await echoes(t, 'site');
  const [http, https] = [await freePort(), await freePort()];
  const www: Route = withPolicy(route('/', 'Prefix', 'site'), { wwwRedirect: { host: HOST, status: 308 } });
  const backends: Backend[] = [backend('site', [site!.endpoint()])];
  await d.apply(
    model({
      entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
      virtualHosts: [vhost(HOST, [route('/', 'Prefix', 'site')], 'default/up'), vhost(`www.${HOST}`, [www], 'default/up')],
      backends,
      certificates: [pems.model],
    }),
  );
  const plain = await request({ port: http, host: `www.${HOST}`, path: '/a/b?c=d&e' });
  assert.equal(plain.status, 308);
  assert.equal(plain.headers.location, `http://${HOST}:${http}/a/b?c=d&e`, 'the public port of the entry point (none for 80 and 443)');
  const tls = await request({ port: https, tls: true, host: `www.${HOST}`, path: '/x?y=1' });
  assert.equal(tls.status, 308);
  assert.equal(tls.headers.location, `https://${HOST}:${https}/x?y=1`);
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/a/b' })).id, 'site', 'the host itself is served');
});

test('haproxy externalAuth: the auth URL is asked with the method, headers and original URL; 2xx passes with the granted headers, 401 / signin 302 / 403 / else 500', async (t) => {
  const d = driver(t);
  const [site] = await echoes(t, 'site');
  const asked: { method: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const { createServer } = await import('node:http');
  const auth = createServer((req, res) => {
    asked.push({ method: req.method ?? '', headers: req.headers });
    const verdict = String(req.headers['x-verdict'] ?? 'ok');
    if (verdict === 'ok') {
      res.writeHead(200, { 'x-auth-user': 'alice', 'x-auth-groups': 'admins' });
      res.end('ok');
    } else if (verdict === 'no') {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="r"' });
      res.end();
    } else if (verdict === 'forbidden') {
      res.writeHead(403);
      res.end();
    } else {
      res.writeHead(502);
      res.end();
    }
  });
  const authEp = await listening(t, auth);
  const url = `http://${authEp.address}:${authEp.port}/check?x=1`;
  const port = await freePort();
  await d.apply(
    model({
      entryPoints: [entryPoint('http', port)],
      virtualHosts: [
        vhost(HOST, [
          withPolicy(route('/app', 'Prefix', 'site'), { externalAuth: { url, responseHeaders: ['X-Auth-User'] } }),
          withPolicy(route('/web', 'Prefix', 'site'), { externalAuth: { url, responseHeaders: [], signin: 'https://login.test/start?from=x' } }),
          withPolicy(route('/gone', 'Prefix', 'site'), { externalAuth: { url: `http://${nextLoopback()}:${await freePort()}/`, responseHeaders: [] } }),
        ]),
      ],
      backends: [backend('site', [site!.endpoint()])],
    }),
  );
  const ok = await request({ port, host: HOST, path: '/app/a?b=1', method: 'POST', body: 'payload', headers: { 'x-auth-user': 'forged', 'x-verdict': 'ok', 'x-original-url': 'forged' } });
  const e = echoOf(ok);
  assert.equal(e.headers['x-auth-user'], 'alice', 'the granted header, the forged copy removed');
  assert.equal(e.headers['x-auth-groups'], undefined, 'only the listed headers');
  assert.equal(e.method, 'POST');
  const a = asked.at(-1);
  assert.equal(a?.method, 'POST');
  assert.equal(a?.headers['x-original-url'], `http://${HOST}/app/a?b=1`);
  assert.equal(a?.headers['x-original-method'], 'POST');
  assert.equal(a?.headers['x-auth-request-redirect'], '/app/a?b=1');
  assert.equal(a?.headers['x-verdict'], 'ok', 'the client headers are passed');
  assert.equal(a?.headers.host, `${authEp.address}:${authEp.port}`, 'the auth URL\'s own Host');
  assert.equal(a?.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(a?.headers['content-length'] ?? '0', '0', 'no body');
  const no = await request({ port, host: HOST, path: '/app', headers: { 'x-verdict': 'no' } });
  assert.equal(no.status, 401);
  assert.equal(no.headers['www-authenticate'], 'Bearer realm="r"');
  const signin = await request({ port, host: HOST, path: '/web/p?q=1', headers: { 'x-verdict': 'no' } });
  assert.equal(signin.status, 302);
  assert.equal(signin.headers.location, `https://login.test/start?from=x&rd=${encodeURIComponent(`http://${HOST}/web/p?q=1`)}`);
  assert.equal((await request({ port, host: HOST, path: '/app', headers: { 'x-verdict': 'forbidden' } })).status, 403);
  assert.equal((await request({ port, host: HOST, path: '/app', headers: { 'x-verdict': 'broken' } })).status, 500);
  assert.equal((await request({ port, host: HOST, path: '/gone' })).status, 500, 'an auth service that does not answer');
  assert.equal(asked.filter((x) => x.method === 'GET').length >= 4, true);
});

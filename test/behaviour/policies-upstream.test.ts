/*
 * Per-route policies about the way to the upstream (src/model/policy.ts), as the proxy of the mode
 * under test serves them: from-to-www redirects, external authentication, gRPC to the pods, the
 * load-balancing algorithms and the connect and send timeouts. One model with a route per policy on
 * an http and an https entry point, asked with real clients; the upstreams are real servers
 * started here (an auth service, h2c and h2-over-TLS gRPC pods, slow and fast pods, an endpoint
 * that never completes a connection, one that never reads).
 *
 * Every route carries what translate leaves of its policy in this mode (fitPolicy): a feature the
 * mode does not render is dropped, an access feature it cannot enforce denies the route. The cases
 * check what a client sees, so they hold in every mode; a case of a feature the mode does not
 * render checks that the README's policies table declares the limitation (nothing is skipped).
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, Server as HttpServer } from 'node:http';
import { connect as h2connect, createSecureServer as createH2SecureServer, createServer as createH2Server } from 'node:http2';
import type { Http2SecureServer, Http2Server, IncomingHttpHeaders as H2Headers, ServerHttp2Stream } from 'node:http2';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { generate } from 'selfsigned';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Certificate, Endpoint, Route, VirtualHost } from '../../src/model/types.ts';
import { FEATURE_MODES, fitPolicy } from '../../src/model/policy-support.ts';
import type { PolicyFeature, ProxyMode } from '../../src/model/policy-support.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, nextLoopback, request, route, vhost } from './harness.ts';
import type { UploadEcho } from './harness.ts';
import { mode } from './modes.ts';

const HOST = 'upstream.test';

/** Whether the mode under test renders a feature (translate drops it otherwise). */
const renders = (feature: PolicyFeature): boolean => (FEATURE_MODES[feature] as readonly string[]).includes(mode);
/** Skips a case whose feature the mode does not render and whose fallback says nothing worth checking. */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/**
 * The test of a feature in a mode that renders it; in a mode that does not, the check that the
 * README's policies table says so for this mode (a limitation is declared, never silently skipped).
 */
function featureTest(feature: PolicyFeature, name: string, fn: () => Promise<void>): void {
  if (renders(feature)) {
    test(name, fn);
    return;
  }
  test(`${name}: not rendered in ${mode} mode, which the README's policies table declares`, () => {
    const row = README.split('\n').find((l) => l.startsWith(`| \`${feature}\` |`));
    assert.ok(row !== undefined, `the README's policies table has a row for ${feature}`);
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const column = ['native', 'haproxy', 'nginx'].indexOf(mode) + 4;
    assert.equal(cells[column], 'no', `${feature} is "no" for ${mode} (header: policy | what | ingress-nginx | Traefik 1 | native | haproxy | nginx)`);
  });
}

/** A route with the policy translate leaves it in this mode. */
function withPolicy(r: Route, policy: RoutePolicy): Route {
  const fitted = fitPolicy(policy, mode as ProxyMode).policy;
  return Object.keys(fitted).length === 0 ? r : { ...r, policy: fitted };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- upstreams of this file

/** What the auth service was asked. */
interface AuthAsked {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
}

/**
 * The external auth service: `/allow` grants with X-User and X-Email (and an unlisted header),
 * `/deny401` and `/deny403` refuse, `/redirect` and `/unavailable` answer what auth_request takes
 * for an error. Remembers every request.
 */
async function startAuth(host: string): Promise<{ server: HttpServer; url: (path: string) => string; asked: AuthAsked[] }> {
  const asked: AuthAsked[] = [];
  const server = createHttpServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      asked.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
      const path = (req.url ?? '').split('?')[0];
      if (path === '/allow') {
        res.writeHead(200, { 'x-user': 'alice', 'x-email': 'alice@example.test', 'x-unlisted': 'secret', 'content-length': 2 });
        res.end('ok');
      } else if (path === '/deny401') {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="auth"', 'content-length': 0 });
        res.end();
      } else if (path === '/deny403') {
        res.writeHead(403, { 'content-length': 0 });
        res.end();
      } else if (path === '/redirect') {
        res.writeHead(302, { location: 'http://elsewhere.test/', 'content-length': 0 });
        res.end();
      } else {
        res.writeHead(503, { 'content-length': 0 });
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = portOf(server);
  return { server, url: (path) => `http://${host}:${port}${path}`, asked };
}

function portOf(server: HttpServer | NetServer | Http2Server | Http2SecureServer): number {
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}

/** A pod that answers `{ id }` after `delayMs`. */
async function startTimed(id: string, delayMs: number, host: string): Promise<{ server: HttpServer; endpoint: Endpoint }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    setTimeout(() => {
      const body = JSON.stringify({ id });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, endpoint: { address: host, port: portOf(server), weight: 1, name: id } };
}

/** A gRPC message frame: not compressed, 4-byte length, payload. */
function grpcFrame(payload: string): Buffer {
  const data = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** The payloads of concatenated gRPC frames. */
function grpcMessages(buf: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const len = buf.readUInt32BE(at + 1);
    out.push(buf.subarray(at + 5, at + 5 + len).toString());
    at += 5 + len;
  }
  return out;
}

/**
 * A gRPC pod's handler: method `Unary` answers one message (the pod id, what it was sent, the
 * request's te, content-type and authority), `Stream` answers each message as it comes,
 * both with grpc-status 0 in trailers; any other method gets a trailers-only UNIMPLEMENTED (12).
 */
function grpcPod(id: string): (stream: ServerHttp2Stream, headers: H2Headers) => void {
  return (stream, headers) => {
    const path = String(headers[':path'] ?? '');
    const method = path.slice(path.lastIndexOf('/') + 1);
    const meta = { id, path, te: headers.te, contentType: headers['content-type'], authority: headers[':authority'] };
    if (method === 'Stream') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('data', (chunk: Buffer) => {
        for (const m of grpcMessages(chunk)) stream.write(grpcFrame(`${id}:${m}`));
      });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'streamed' }));
      stream.on('end', () => stream.end());
      return;
    }
    if (method !== 'Unary') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(grpcFrame(JSON.stringify({ ...meta, got: grpcMessages(Buffer.concat(chunks)) })));
    });
  };
}

/**
 * An endpoint that never completes a connection: a listening socket whose process is stopped, its
 * accept queue filled, so the kernel drops every further SYN (the client's connect just waits, as
 * to a blackholed address). Loopback has no blackholed address of its own.
 */
async function startBlackhole(host: string): Promise<{ endpoint: Endpoint; close: () => void }> {
  const code = `const s = require('node:net').createServer(); s.listen({ host: ${JSON.stringify(host)}, port: 0, backlog: 1 }, () => process.stdout.write(s.address().port + '\\n'));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  // Stopped, it accepts nothing: the kernel completes handshakes into the accept queue until it is full.
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  for (let i = 0; i < 64; i++) {
    const s = netConnect({ host, port });
    s.on('error', () => undefined);
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) break;
  }
  return {
    endpoint: { address: host, port, weight: 1, name: 'blackhole' },
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------- setup

let http = 0;
let https = 0;
let h: Harness | undefined;
let auth: Awaited<ReturnType<typeof startAuth>> | undefined;
let authDownPort = 0;
let h2cPod: Http2Server | undefined;
let h2tlsPod: Http2SecureServer | undefined;
const servers: (HttpServer | NetServer)[] = [];
let blackhole: Awaited<ReturnType<typeof startBlackhole>> | undefined;
/** A second one, for the retry case: not marked down by the other case. */
let blackhole2: Awaited<ReturnType<typeof startBlackhole>> | undefined;
const sinkSockets = new Set<Socket>();

before(async () => {
  h = await Harness.start();
  const [site, lcA, lcB, uploads, retryEcho] = await h.echoes('site', 'lc-a', 'lc-b', 'uploads', 'retry-echo');
  [http, https] = [await freePort(), await freePort()];
  const pems = await generate([{ name: 'commonName', value: HOST }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: HOST }, { type: 2 as const, value: `www.${HOST}` }] }],
  });
  const cert: Certificate = { id: 'default/upstream', hosts: [HOST, `www.${HOST}`], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: 'upstream' } };

  auth = await startAuth(nextLoopback());
  // An auth service that is down: a port nothing listens on.
  authDownPort = await freePort();
  const authUrl = auth.url;

  // gRPC pods: h2c (prior knowledge) and h2 over TLS with a self-signed certificate, as pods have.
  const h2cHost = nextLoopback();
  h2cPod = createH2Server();
  h2cPod.on('stream', grpcPod('h2c-pod'));
  await new Promise<void>((resolve) => h2cPod!.listen(0, h2cHost, resolve));
  const h2tlsHost = nextLoopback();
  h2tlsPod = createH2SecureServer({ cert: pems.cert, key: pems.private });
  h2tlsPod.on('stream', grpcPod('tls-pod'));
  await new Promise<void>((resolve) => h2tlsPod!.listen(0, h2tlsHost, resolve));

  // ewma: a slow and a fast pod.
  const slow = await startTimed('slow', 150, nextLoopback());
  const fast = await startTimed('fast', 0, nextLoopback());
  servers.push(slow.server, fast.server);

  // send timeout: a pod that accepts connections and never reads a byte.
  const sinkHost = nextLoopback();
  const sink = createNetServer({ pauseOnConnect: true }, (socket) => {
    sinkSockets.add(socket);
    socket.once('close', () => sinkSockets.delete(socket));
  });
  await new Promise<void>((resolve) => sink.listen(0, sinkHost, resolve));
  servers.push(sink);

  blackhole = await startBlackhole(nextLoopback());
  blackhole2 = await startBlackhole(nextLoopback());

  const routes: Route[] = [
    route('/', 'Prefix', 'site'),
    // externalAuth
    withPolicy(route('/auth-ok', 'Prefix', 'site'), { externalAuth: { url: authUrl('/allow'), responseHeaders: ['X-User', 'X-Email', 'X-Missing'] } }),
    withPolicy(route('/auth-401', 'Prefix', 'site'), { externalAuth: { url: authUrl('/deny401'), responseHeaders: [] } }),
    withPolicy(route('/auth-signin', 'Prefix', 'site'), { externalAuth: { url: authUrl('/deny401'), responseHeaders: [], signin: 'https://login.test/start?app=1' } }),
    withPolicy(route('/auth-403', 'Prefix', 'site'), { externalAuth: { url: authUrl('/deny403'), responseHeaders: [] } }),
    withPolicy(route('/auth-redirect', 'Prefix', 'site'), { externalAuth: { url: authUrl('/redirect'), responseHeaders: [] } }),
    withPolicy(route('/auth-unavailable', 'Prefix', 'site'), { externalAuth: { url: authUrl('/unavailable'), responseHeaders: [] } }),
    withPolicy(route('/auth-down', 'Prefix', 'site'), { externalAuth: { url: `http://127.0.0.1:${authDownPort}/allow`, responseHeaders: [] } }),
    // gRPC
    withPolicy(route('/grpc.Echo', 'Prefix', 'h2c-pod'), { upstream: { protocol: 'grpc' } }),
    withPolicy(route('/grpcs.Echo', 'Prefix', 'tls-pod'), { upstream: { protocol: 'grpcs' } }),
    // load balancing
    withPolicy(route('/lc', 'Prefix', 'lc'), { upstream: { loadBalance: 'least_conn' }, rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/ewma', 'Prefix', 'timed'), { upstream: { loadBalance: 'ewma' } }),
    // timeouts
    withPolicy(route('/connect-timeout', 'Prefix', 'blackhole'), { timeouts: { connect: 500 } }),
    withPolicy(route('/connect-next', 'Prefix', 'blackhole-then-echo'), { timeouts: { connect: 500 } }),
    withPolicy(route('/send-timeout', 'Prefix', 'sink'), { timeouts: { send: 1000 } }),
    withPolicy(route('/send-ok', 'Prefix', 'uploads'), { timeouts: { send: 1000 }, rewrite: { kind: 'replace-path', path: '/__upload' } }),
  ];
  // from-to-www-redirect: translate adds the other name of a host only in a mode that renders it.
  const www: VirtualHost[] = renders('wwwRedirect')
    ? [vhost(`www.${HOST}`, [withPolicy(route('/', 'Prefix', 'site'), { wwwRedirect: { host: HOST, status: 308 } })], 'default/upstream'), vhost('other.test', [withPolicy(route('/', 'Prefix', 'site'), { wwwRedirect: { host: 'www.other.test', status: 308 } })])]
    : [];
  await h.apply(
    model({
      entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
      virtualHosts: [vhost(HOST, routes, 'default/upstream'), ...www],
      backends: [
        backend('site', [site!.endpoint()]),
        backend('uploads', [uploads!.endpoint()]),
        backend('h2c-pod', [{ address: h2cHost, port: portOf(h2cPod), weight: 1 }]),
        backend('tls-pod', [{ address: h2tlsHost, port: portOf(h2tlsPod), weight: 1 }]),
        backend('lc', [lcA!.endpoint(), lcB!.endpoint()]),
        backend('timed', [slow.endpoint, fast.endpoint]),
        backend('blackhole', [blackhole.endpoint]),
        backend('blackhole-then-echo', [blackhole2.endpoint, retryEcho!.endpoint()]),
        backend('sink', [{ address: sinkHost, port: portOf(sink), weight: 1 }]),
      ],
      certificates: [cert],
    }),
  );
});

after(async () => {
  await h?.close();
  blackhole?.close();
  blackhole2?.close();
  for (const s of sinkSockets) s.destroy();
  auth?.server.closeAllConnections();
  auth?.server.close();
  h2cPod?.close();
  h2tlsPod?.close();
  for (const s of servers) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    s.close();
  }
});

// ---------------------------------------------------------------- wwwRedirect

featureTest('wwwRedirect', 'policy wwwRedirect: the other name of a host answers 308 to the same scheme on the host, path and query kept', async () => {
  const plain = await request({ port: http, host: `www.${HOST}`, path: '/a/b?c=d&e' });
  assert.equal(plain.status, 308);
  assert.equal(plain.headers.location, `http://${HOST}:${http}/a/b?c=d&e`);
  const tls = await request({ port: https, tls: true, host: `www.${HOST}`, path: '/x/?y=1' });
  assert.equal(tls.status, 308);
  assert.equal(tls.headers.location, `https://${HOST}:${https}/x/?y=1`);
  const root = await request({ port: http, host: 'other.test', path: '/' });
  assert.equal(root.status, 308);
  assert.equal(root.headers.location, `http://www.other.test:${http}/`);
  // The host itself is served.
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/a/b?c=d&e' })).url, '/a/b?c=d&e');
});

// ---------------------------------------------------------------- externalAuth

test('policy externalAuth: a 2xx lets the request through with the listed headers of the answer; a client cannot forge them', async () => {
  const r = await request({
    port: http,
    host: HOST,
    path: '/auth-ok/page?x=1',
    method: 'POST',
    body: 'payload',
    headers: { cookie: 'session=abc', 'x-user': 'mallory', 'X-Missing': 'forged', 'x-forwarded-for': '10.9.9.9', 'content-type': 'text/plain' },
  });
  if (!renders('externalAuth')) {
    assert.equal(r.status, 503, 'declared not rendered: the route is denied');
    return;
  }
  const e = echoOf(r);
  assert.equal(e.url, '/auth-ok/page?x=1');
  assert.equal(e.method, 'POST');
  assert.equal(e.headers['x-user'], 'alice', 'the auth answer replaces what the client sent');
  assert.equal(e.headers['x-email'], 'alice@example.test');
  assert.equal(e.headers['x-missing'], undefined, 'a listed header the answer lacks is removed, not left to the client');
  assert.equal(e.headers['x-unlisted'], undefined, 'only the listed headers are copied');
  assert.equal(e.headers.cookie, 'session=abc');
  const asked = auth!.asked.at(-1);
  assert.ok(asked !== undefined, 'the auth service was asked');
  assert.equal(asked.url, '/allow');
  assert.equal(asked.method, 'POST', 'the original method');
  assert.equal(asked.bodyBytes, 0, 'no body');
  assert.equal(asked.headers['x-original-url'], `http://${HOST}/auth-ok/page?x=1`);
  assert.equal(asked.headers['x-original-method'], 'POST');
  assert.equal(asked.headers['x-auth-request-redirect'], '/auth-ok/page?x=1');
  assert.equal(asked.headers['x-forwarded-for'], '127.0.0.1', 'the client as the entry point sees it (an untrusted client cannot claim another address)');
  assert.equal(asked.headers['x-real-ip'], '127.0.0.1');
  assert.equal(asked.headers.cookie, 'session=abc', 'the original headers');
});

test('policy externalAuth: a GET over https; the original URL says https', async () => {
  const r = await request({ port: https, tls: true, host: HOST, path: '/auth-ok/secure?q=2' });
  if (!renders('externalAuth')) {
    assert.equal(r.status, 503);
    return;
  }
  assert.equal(echoOf(r).headers['x-user'], 'alice');
  const asked = auth!.asked.at(-1);
  assert.equal(asked?.method, 'GET');
  assert.equal(asked?.headers['x-original-url'], `https://${HOST}/auth-ok/secure?q=2`);
});

test('policy externalAuth: 401 is answered 401; with auth-signin, 302 to it with rd= the original URL', async () => {
  const r = await request({ port: http, host: HOST, path: '/auth-401/x' });
  const s = await request({ port: http, host: HOST, path: '/auth-signin/p?q=1&r=a%20b' });
  if (!renders('externalAuth')) {
    assert.deepEqual([r.status, s.status], [503, 503]);
    return;
  }
  assert.equal(r.status, 401);
  assert.equal(s.status, 302);
  const location = new URL(String(s.headers.location));
  assert.equal(`${location.origin}${location.pathname}`, 'https://login.test/start');
  assert.equal(location.searchParams.get('app'), '1', 'the sign-in URL keeps its own query');
  assert.equal(location.searchParams.get('rd'), `http://${HOST}/auth-signin/p?q=1&r=a%20b`);
});

test('policy externalAuth: 403 is answered 403; any other answer, or an auth service that is down, 500', async () => {
  const statuses = [];
  for (const path of ['/auth-403', '/auth-redirect', '/auth-unavailable', '/auth-down']) statuses.push((await request({ port: http, host: HOST, path })).status);
  assert.deepEqual(statuses, renders('externalAuth') ? [403, 500, 500, 500] : [503, 503, 503, 503]);
});

// ---------------------------------------------------------------- gRPC

/** A gRPC call through the https entry point over HTTP/2: the answer's headers, messages and trailers. */
async function grpcCall(path: string, messages: readonly string[], opts: { readonly interactive?: boolean } = {}): Promise<{ headers: H2Headers; messages: string[]; trailers: H2Headers | undefined }> {
  const client = h2connect(`https://127.0.0.1:${https}`, { servername: HOST, rejectUnauthorized: false });
  // A call that never ends fails the case instead of hanging the file.
  const guard = setTimeout(() => client.destroy(new Error('the call did not end within 10 s')), 10_000);
  try {
    client.on('error', () => undefined);
    const stream = client.request({ ':method': 'POST', ':path': path, ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers' });
    const headers = new Promise<H2Headers>((resolve) => stream.once('response', (hd) => resolve(hd)));
    const chunks: Buffer[] = [];
    let trailers: H2Headers | undefined;
    stream.on('trailers', (t) => (trailers = t));
    const received = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (grpcMessages(Buffer.concat(chunks)).length >= n) {
            stream.off('data', onData);
            resolve();
          }
        };
        const onData = (): void => check();
        stream.on('data', onData);
        check();
      });
    stream.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    stream.resume();
    for (const [i, m] of messages.entries()) {
      stream.write(grpcFrame(m));
      // Streaming both ways: each answer arrives before the next message is sent.
      if (opts.interactive === true) await Promise.race([received(i + 1), ended.then(() => Promise.reject(new Error(`the call ended after ${i} answers`)))]);
    }
    stream.end();
    await ended;
    return { headers: await headers, messages: grpcMessages(Buffer.concat(chunks)), trailers };
  } finally {
    clearTimeout(guard);
    client.close();
  }
}

for (const [protocol, path, pod] of [
  ['grpc (h2c)', '/grpc.Echo', 'h2c-pod'],
  ['grpcs (h2 over TLS)', '/grpcs.Echo', 'tls-pod'],
] as const) {
  featureTest('upstream.grpc', `policy upstream.grpc ${protocol}: a unary call over HTTP/2 reaches the pod; its message and trailers come back`, async () => {
    const call = await grpcCall(`${path}/Unary`, ['hello', 'world']);
    assert.equal(call.headers[':status'], 200);
    assert.equal(call.headers['content-type'], 'application/grpc');
    assert.equal(call.messages.length, 1);
    const got = JSON.parse(call.messages[0]!) as { id: string; path: string; te: string; contentType: string; got: string[] };
    assert.equal(got.id, pod);
    assert.equal(got.path, `${path}/Unary`);
    assert.equal(got.contentType, 'application/grpc');
    assert.equal(got.te, 'trailers', 'gRPC needs TE: trailers');
    assert.deepEqual(got.got, ['hello', 'world']);
    assert.equal(call.trailers?.['grpc-status'], '0');
    assert.equal(call.trailers?.['grpc-message'], 'ok');
  });

  featureTest('upstream.grpc', `policy upstream.grpc ${protocol}: a bidirectional stream is passed message by message`, async () => {
    const call = await grpcCall(`${path}/Stream`, ['one', 'two', 'three'], { interactive: true });
    assert.deepEqual(call.messages, [`${pod}:one`, `${pod}:two`, `${pod}:three`]);
    assert.equal(call.trailers?.['grpc-status'], '0');
    assert.equal(call.trailers?.['grpc-message'], 'streamed');
  });

  featureTest('upstream.grpc', `policy upstream.grpc ${protocol}: a trailers-only error answer keeps its grpc-status`, async () => {
    const call = await grpcCall(`${path}/Missing`, ['x']);
    assert.equal(call.headers[':status'], 200);
    assert.equal(call.headers['grpc-status'] ?? call.trailers?.['grpc-status'], '12');
    assert.deepEqual(call.messages, []);
  });
}

// ---------------------------------------------------------------- load balancing

featureTest('upstream.loadBalance', 'policy upstream.loadBalance least_conn: while one endpoint holds a slow request, the others go to the free one', async () => {
  const slow = request({ port: http, host: HOST, path: '/lc/__slow/1500' });
  await sleep(300);
  const quick: string[] = [];
  for (let i = 0; i < 6; i++) quick.push(echoOf(await request({ port: http, host: HOST, path: `/lc/q${i}` })).id);
  const busy = echoOf(await slow).id;
  const free = busy === 'lc-a' ? 'lc-b' : 'lc-a';
  assert.deepEqual(quick, Array.from({ length: 6 }, () => free), `the slow request is on ${busy}`);
  // Both idle again: both serve.
  const after: string[] = [];
  for (let i = 0; i < 4; i++) after.push(echoOf(await request({ port: http, host: HOST, path: `/lc/r${i}` })).id);
  assert.deepEqual([...new Set(after)].sort(), ['lc-a', 'lc-b'], `ties go round robin: ${after.join(',')}`);
});

featureTest('upstream.ewma', 'policy upstream.ewma: most requests go to the fast endpoint', async () => {
  const counts = { fast: 0, slow: 0 };
  for (let i = 0; i < 30; i++) {
    const r = await request({ port: http, host: HOST, path: `/ewma/${i}` });
    assert.equal(r.status, 200);
    counts[(JSON.parse(r.text) as { id: 'fast' | 'slow' }).id]++;
  }
  // Round robin would give 15 each.
  assert.ok(counts.fast >= 24, `fast ${counts.fast}, slow ${counts.slow}`);
  // Concurrent requests too: the slow one's latency keeps it the worse choice.
  const ids = await Promise.all(Array.from({ length: 10 }, async (_, i) => (JSON.parse((await request({ port: http, host: HOST, path: `/ewma/c${i}` })).text) as { id: string }).id));
  assert.ok(ids.filter((id) => id === 'fast').length >= 6, `concurrent: ${ids.join(',')}`);
});

// ---------------------------------------------------------------- timeouts

featureTest('timeouts.connect', 'policy timeouts.connect: an endpoint that never completes the connection gets 504 after the route connect timeout', async () => {
  const started = performance.now();
  const r = await request({ port: http, host: HOST, path: '/connect-timeout/x', timeoutMs: 8000 });
  const elapsed = performance.now() - started;
  assert.equal(r.status, 504);
  assert.ok(elapsed >= 400 && elapsed < 3000, `answered after ${Math.round(elapsed)} ms (connect timeout 500 ms)`);
});

featureTest('timeouts.connect', 'policy timeouts.connect: on expiry a GET goes to the next endpoint', async () => {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = performance.now();
    const r = await request({ port: http, host: HOST, path: `/connect-next/${i}`, timeoutMs: 8000 });
    times.push(Math.round(performance.now() - started));
    assert.equal(echoOf(r).id, 'retry-echo');
  }
  assert.ok(
    times.every((t) => t < 3000),
    `served after ${times.join(', ')} ms`,
  );
  // Round robin over two endpoints: some request tried the one that never connects first.
  assert.ok(
    times.some((t) => t >= 400),
    `one request waited for the connect timeout before its next try: ${times.join(', ')} ms`,
  );
});

/** Sends a `bytes`-byte POST as fast as the connection takes it: the status, or the connection's failure. */
function upload(path: string, bytes: number, limitMs: number): Promise<{ status?: number; text?: string; error?: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let done = false;
    const finish = (r: { status?: number; text?: string; error?: string }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...r, ms: performance.now() - started });
    };
    const req = httpRequest({ host: '127.0.0.1', port: http, path, method: 'POST', agent: false, headers: { host: HOST, 'content-length': bytes, 'content-type': 'application/octet-stream' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', (err) => finish({ status: res.statusCode ?? 0, error: err.message }));
    });
    req.on('error', (err) => finish({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    const timer = setTimeout(() => finish({ error: 'no outcome' }), limitMs);
    const chunk = Buffer.alloc(256 * 1024, 97);
    let left = bytes;
    const pump = (): void => {
      while (left > 0 && !done) {
        const take = Math.min(chunk.length, left);
        left -= take;
        if (!req.write(take === chunk.length ? chunk : chunk.subarray(0, take))) {
          req.once('drain', pump);
          return;
        }
      }
      if (left === 0 && !done) req.end();
    };
    pump();
  });
}

featureTest('timeouts.send', 'policy timeouts.send: an upstream that stops taking the request body gets 504 (or the connection cut) after the send timeout', async () => {
  const r = await upload('/send-timeout/big', 64 * 1024 * 1024, 15_000);
  assert.notEqual(r.error, 'no outcome', `no answer and no close ${Math.round(r.ms)} ms after the upload started`);
  if (r.status !== undefined) assert.equal(r.status, 504, r.text);
  else assert.match(String(r.error), /ECONNRESET|EPIPE|socket hang up/);
  assert.ok(r.ms >= 900 && r.ms < 8000, `after ${Math.round(r.ms)} ms (send timeout 1000 ms, read timeout far longer)`);
});

featureTest('timeouts.send', 'policy timeouts.send: an upstream that takes the body keeps a large upload going', async () => {
  const r = await upload('/send-ok/file', 16 * 1024 * 1024, 20_000);
  assert.equal(r.status, 200, r.error ?? r.text);
  const e = JSON.parse(r.text ?? '{}') as UploadEcho;
  assert.equal(e.bytes, 16 * 1024 * 1024);
});

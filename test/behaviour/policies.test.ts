/*
 * Per-route policies (src/model/policy.ts), as the proxy of the mode under test serves them: one
 * model with a route per policy on an http and an https entry point, asked with real clients.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { generate } from 'selfsigned';
import bcrypt from 'bcryptjs';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Certificate, Route } from '../../src/model/types.ts';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { FEATURE_MODES } from '../../src/model/policy-support.ts';
import type { PolicyFeature } from '../../src/model/policy-support.ts';
import { REGEX_ROUTE_MODES } from '../../src/model/translate/index.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, nextLoopback, request, route, vhost } from './harness.ts';
import { mode } from './modes.ts';

const HOST = 'policy.test';

/** Whether the mode under test renders a feature (translate drops it otherwise). */
const renders = (feature: PolicyFeature): boolean => (FEATURE_MODES[feature] as readonly string[]).includes(mode);
/** Whether the mode routes Regex routes (elsewhere translate skips them, so the model has none). */
const routesRegex = (REGEX_ROUTE_MODES as readonly string[]).includes(mode);
const REGEX = '/regex(/|$)(.*)';

function withPolicy(r: Route, policy: RoutePolicy): Route {
  return { ...r, policy };
}

let http = 0;
let https = 0;
let h: Harness | undefined;
let tlsUpstream: HttpsServer | undefined;

before(async () => {
  // One harness for the file: the model is applied once and every test asks it.
  h = await Harness.start();
  const [site, stickyA, stickyB, stable, next] = await h.echoes('site', 'sticky-a', 'sticky-b', 'stable', 'next');
  [http, https] = [await freePort(), await freePort()];
  const pems = await generate([{ name: 'commonName', value: HOST }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: HOST }] }] });
  // A pod that speaks only TLS (backend-protocol HTTPS), with a self-signed certificate as pods have.
  const tlsHost = nextLoopback();
  tlsUpstream = createHttpsServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 'tls-pod', method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers }));
  });
  await new Promise<void>((resolve) => tlsUpstream?.listen(0, tlsHost, resolve));
  const tlsAddress = tlsUpstream.address();
  const tlsPort = typeof tlsAddress === 'object' && tlsAddress !== null ? tlsAddress.port : 0;
  const cert: Certificate = { id: 'default/policy', hosts: [HOST], certPem: pems.cert, keyPem: pems.private, source: { kind: 'Secret', namespace: 'default', name: 'policy' } };
  const users = [{ user: 'alice', hash: bcrypt.hashSync('wonderland', 4) }];
  const routes: Route[] = [
    route('/', 'Prefix', 'site'),
    withPolicy(route('/secure', 'Prefix', 'site'), { sslRedirect: { status: 308 }, hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: false } }),
    withPolicy(route('/moved', 'Prefix', 'site'), { redirect: { url: 'https://elsewhere.test/new', status: 301 } }),
    withPolicy(route('/office', 'Prefix', 'site'), { allowSourceRange: ['10.0.0.0/8'] }),
    withPolicy(route('/local', 'Prefix', 'site'), { allowSourceRange: ['127.0.0.0/8', '::1'] }),
    withPolicy(route('/private', 'Prefix', 'site'), { basicAuth: { realm: 'Private area', users, secret: 'default/auth' } }),
    withPolicy(route('/upload', 'Prefix', 'site'), { limits: { maxBodyBytes: 1024 } }),
    withPolicy(route('/api', 'Prefix', 'site'), { rewrite: { kind: 'prefix', target: '/v2' } }),
    withPolicy(route('/strip', 'Prefix', 'site'), { rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/replace', 'Prefix', 'site'), { rewrite: { kind: 'replace-path', path: '/fixed' } }),
    withPolicy(route('/headers', 'Prefix', 'site'), { headers: { request: { 'X-Tenant': 'blue' }, response: { 'X-Frame-Options': 'DENY' } }, upstream: { vhost: 'internal.svc' } }),
    withPolicy(route('/denied', 'Prefix', 'site'), { denied: 'the basic-auth Secret default/missing is not usable' }),
    withPolicy(route('/cors-any', 'Prefix', 'site'), { cors: { allowOrigins: ['*'], allowMethods: ['GET', 'PUT'], allowHeaders: ['Authorization', 'X-Custom'], allowCredentials: false, maxAgeSeconds: 600 } }),
    withPolicy(route('/cors-app', 'Prefix', 'site'), { cors: { allowOrigins: ['https://app.test'], allowMethods: ['GET'], allowHeaders: ['Content-Type'], allowCredentials: true, maxAgeSeconds: 60 }, basicAuth: { realm: 'r', users, secret: 'default/auth' } }),
    withPolicy(route('/limited', 'Prefix', 'site'), { limits: { rps: 1 } }),
    withPolicy(route('/one-at-a-time', 'Prefix', 'site'), { limits: { connections: 1 }, rewrite: { kind: 'strip-prefix' } }),
    withPolicy(route('/impatient', 'Prefix', 'site'), { timeouts: { read: 500 }, rewrite: { kind: 'strip-prefix' } }),
    // A canary Ingress's backend on the main route, as translate gives it to this mode.
    renders('canary') ? withPolicy(route('/release', 'Prefix', 'stable'), { canary: { backend: 'default/next:80', header: 'X-Canary', cookie: 'canary' } }) : route('/release', 'Prefix', 'stable'),
    renders('canary') ? withPolicy(route('/all-in', 'Prefix', 'stable'), { canary: { backend: 'default/next:80', weight: 100 } }) : route('/all-in', 'Prefix', 'stable'),
    ...(renders('upstream.affinity') ? [withPolicy(route('/sticky', 'Prefix', 'sticky'), { upstream: { affinity: { cookie: 'route', maxAgeSeconds: 60 } } })] : [route('/sticky', 'Prefix', 'sticky')]),
    // What translate gives this mode: without the feature, the protocol is dropped (plain HTTP to a TLS pod).
    ...(renders('upstream.https') ? [withPolicy(route('/tls-pod', 'Prefix', 'tls-pod'), { upstream: { protocol: 'https' } })] : [route('/tls-pod', 'Prefix', 'tls-pod')]),
    // use-regex + rewrite-target /rewritten/$2, as translate gives it to this mode (a Prefix of another Ingress beside it).
    ...(routesRegex ? [renders('rewrite.regex') ? withPolicy(route(REGEX, 'Regex', 'site'), { rewrite: { kind: 'regex', pattern: REGEX, target: '/rewritten/$2' } }) : route(REGEX, 'Regex', 'site')] : []),
    route('/regex/kept', 'Prefix', 'site'),
  ];
  await h.apply(
    model({
      entryPoints: [entryPoint('http', http), entryPoint('https', https, { tls: true })],
      virtualHosts: [vhost(HOST, routes, 'default/policy'), vhost('root.test', [withPolicy(route('/', 'Prefix', 'site'), { appRoot: '/app/' })])],
      backends: [backend('site', [site!.endpoint()]), backend('tls-pod', [{ address: tlsHost, port: tlsPort, weight: 1 }]), backend('sticky', [stickyA!.endpoint(), stickyB!.endpoint()]), backend('stable', [stable!.endpoint()]), backend('next', [next!.endpoint()])],
      certificates: [cert],
    }),
  );
});

after(async () => {
  await h?.close();
  tlsUpstream?.close();
});

test('policy: no policy, no change (the plain route)', async () => {
  const e = echoOf(await request({ port: http, host: HOST, path: '/plain?x=1' }));
  assert.equal(e.url, '/plain?x=1');
});

test('policy sslRedirect: plain HTTP gets 308 to https with the path and query; https is served with HSTS', async () => {
  const r = await request({ port: http, host: HOST, path: '/secure/a?b=c' });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://${HOST}:${https}/secure/a?b=c`);
  assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
  const s = await request({ port: https, tls: true, host: HOST, path: '/secure/a' });
  assert.equal(s.status, 200);
  assert.equal(s.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  // Other routes of the host are not redirected.
  assert.equal((await request({ port: http, host: HOST, path: '/plain' })).status, 200);
});

test('policy redirect: a fixed URL with its status', async () => {
  const r = await request({ port: http, host: HOST, path: '/moved/x?y=1' });
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://elsewhere.test/new');
});

test('policy appRoot: / redirects (302) to the app root; other paths are served', async () => {
  const r = await request({ port: http, host: 'root.test', path: '/' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://root.test/app/');
  assert.equal(echoOf(await request({ port: http, host: 'root.test', path: '/app/' })).url, '/app/');
});

test('policy allowSourceRange: a client outside the ranges gets 403, inside is served', async () => {
  assert.equal((await request({ port: http, host: HOST, path: '/office' })).status, 403);
  // A forged X-Forwarded-For from an untrusted client changes nothing.
  assert.equal((await request({ port: http, host: HOST, path: '/office', headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 403);
  assert.equal((await request({ port: http, host: HOST, path: '/local' })).status, 200);
});

test('policy basicAuth: 401 with the realm without or with wrong credentials, served with them', async () => {
  const none = await request({ port: http, host: HOST, path: '/private' });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Basic realm="Private area"');
  const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.equal((await request({ port: http, host: HOST, path: '/private', headers: { authorization: basic('alice:nope') } })).status, 401);
  const ok = await request({ port: http, host: HOST, path: '/private', headers: { authorization: basic('alice:wonderland') } });
  assert.equal(ok.status, 200);
  assert.equal(echoOf(ok).headers.authorization, undefined, 'the credentials stay with the proxy (as ingress-nginx)');
  assert.equal((await request({ port: http, host: HOST, path: '/plain' })).status, 200, 'other routes ask nothing');
});

test('policy limits.maxBodyBytes: a larger body gets 413, a smaller one is served', async () => {
  const big = await request({ port: http, host: HOST, path: '/upload', method: 'POST', body: 'x'.repeat(2048) });
  assert.equal(big.status, 413);
  const small = await request({ port: http, host: HOST, path: '/upload', method: 'POST', body: 'x'.repeat(100) });
  assert.equal(small.status, 200);
  // A chunked body has no Content-Length to check first: it is counted as it comes.
  const chunked = await request({ port: http, host: HOST, path: '/upload', method: 'POST', body: Readable.from([Buffer.alloc(800, 120), Buffer.alloc(800, 120)]) });
  assert.equal(chunked.status, 413);
  const smallChunked = await request({ port: http, host: HOST, path: '/upload', method: 'POST', body: Readable.from([Buffer.alloc(300, 120), Buffer.alloc(300, 120)]) });
  assert.equal(smallChunked.status, 200);
});

test('policy rewrite: prefix target, strip-prefix and replace-path; the query is kept', async () => {
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/api/users?id=7' })).url, '/v2/users?id=7');
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/api' })).url, '/v2');
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/strip/a/b?q' })).url, '/a/b?q');
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/strip' })).url, '/');
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/replace/any/thing?z=1' })).url, '/fixed?z=1');
});

test('policy rewrite.regex: a Regex route matches case-insensitively from the start, before Prefix routes; $2 substituted, the query kept', async () => {
  if (!routesRegex) {
    // Declared: translate skips Regex paths in this mode (an error on the path), so the Prefix routes serve, unchanged.
    assert.equal(echoOf(await request({ port: http, host: HOST, path: '/regex/new?x=1' })).url, '/regex/new?x=1');
    assert.equal(echoOf(await request({ port: http, host: HOST, path: '/regex/kept/x' })).url, '/regex/kept/x');
    return;
  }
  const rewritten = renders('rewrite.regex');
  const rows: readonly (readonly [string, string])[] = [
    ['/regex/new?x=1', rewritten ? '/rewritten/new?x=1' : '/regex/new?x=1'],
    ['/REGEX/a/b', rewritten ? '/rewritten/a/b' : '/REGEX/a/b'],
    ['/regex', rewritten ? '/rewritten/' : '/regex'],
    // Regex before Prefix (as ingress-nginx's regex locations): the longer Prefix /regex/kept loses.
    ['/regex/kept/x', rewritten ? '/rewritten/kept/x' : '/regex/kept/x'],
  ];
  for (const [path, url] of rows) {
    assert.equal(echoOf(await request({ port: http, host: HOST, path })).url, url, path);
  }
  // Not this pattern (the group needs "/" or the end): the Prefix / serves it unchanged.
  assert.equal(echoOf(await request({ port: http, host: HOST, path: '/regexp/a' })).url, '/regexp/a');
});

test('policy headers and upstream vhost: request header set, response header set, Host replaced', async () => {
  const r = await request({ port: http, host: HOST, path: '/headers', headers: { 'x-tenant': 'forged' } });
  const e = echoOf(r);
  assert.equal(e.headers['x-tenant'], 'blue');
  assert.equal(e.headers.host, 'internal.svc');
  assert.equal(r.headers['x-frame-options'], 'DENY');
});

test('policy denied: 503 saying why, for every method', async () => {
  for (const method of ['GET', 'POST']) {
    const r = await request({ port: http, host: HOST, path: '/denied', method });
    assert.equal(r.status, 503);
    assert.match(r.text, /basic-auth Secret default\/missing/);
  }
});

test('policy cors: a preflight gets 204 with the allowed methods, headers and max-age; answers carry the origin', async () => {
  const pre = await request({ port: http, host: HOST, path: '/cors-any/x', method: 'OPTIONS', headers: { origin: 'https://anywhere.test', 'access-control-request-method': 'PUT' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET, PUT');
  assert.equal(pre.headers['access-control-allow-headers'], 'Authorization, X-Custom');
  assert.equal(pre.headers['access-control-max-age'], '600');
  const get = await request({ port: http, host: HOST, path: '/cors-any/x', headers: { origin: 'https://anywhere.test' } });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], '*');
});

test('policy cors with listed origins: the origin is echoed with credentials; another origin gets no CORS header; the preflight needs no password', async () => {
  const pre = await request({ port: http, host: HOST, path: '/cors-app', method: 'OPTIONS', headers: { origin: 'https://app.test', 'access-control-request-method': 'GET' } });
  assert.equal(pre.status, 204, 'preflight before basic auth (browsers send it without credentials)');
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.test');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  const other = await request({ port: http, host: HOST, path: '/cors-app', method: 'OPTIONS', headers: { origin: 'https://evil.test', 'access-control-request-method': 'GET' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const basic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
  const get = await request({ port: http, host: HOST, path: '/cors-app', headers: { origin: 'https://app.test', authorization: basic } });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], 'https://app.test');
});

test('policy limits.rps: a burst of five times the rate, then 503 (per client, as ingress-nginx)', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await request({ port: http, host: HOST, path: '/limited' })).status);
  assert.ok(statuses.slice(0, 5).every((s) => s === 200), `the burst is served: ${statuses.join(',')}`);
  assert.ok(statuses.slice(5).includes(503), `then limited: ${statuses.join(',')}`);
  assert.equal((await request({ port: http, host: HOST, path: '/plain' })).status, 200, 'other routes are not limited');
});

test('policy limits.connections: a second request in progress from the same client gets 503', async () => {
  const slow = request({ port: http, host: HOST, path: '/one-at-a-time/__slow/800' });
  await new Promise((r) => setTimeout(r, 200));
  const second = await request({ port: http, host: HOST, path: '/one-at-a-time/x' });
  assert.equal(second.status, 503);
  assert.equal((await slow).status, 200);
  assert.equal((await request({ port: http, host: HOST, path: '/one-at-a-time/x' })).status, 200, 'served again once the first ended');
});

test('policy timeouts.read: a backend slower than the route read timeout gets 504; a faster one is served', async () => {
  const slow = await request({ port: http, host: HOST, path: '/impatient/__slow/1500' });
  assert.equal(slow.status, 504);
  assert.equal((await request({ port: http, host: HOST, path: '/impatient/__slow/50' })).status, 200);
  assert.equal((await request({ port: http, host: HOST, path: '/strip/__slow/1500' })).status, 200, 'other routes keep the entry point timeout');
});

test('policy upstream.https: the request reaches a TLS-only pod over TLS (its certificate not verified, as ingress-nginx)', async () => {
  const r = await request({ port: http, host: HOST, path: '/tls-pod/x?y=1' });
  if (renders('upstream.https')) {
    const e = echoOf(r);
    assert.equal(e.id, 'tls-pod');
    assert.equal(e.url, '/tls-pod/x?y=1');
  } else {
    // Declared not rendered in this mode: translate drops the protocol, and plain HTTP to a TLS pod fails.
    assert.equal(r.status, 502);
  }
});

test('policy upstream.affinity: a cookie keeps a client on one endpoint; without it requests are spread', async () => {
  const first = await request({ port: http, host: HOST, path: '/sticky' });
  const setCookie = first.headers['set-cookie']?.find((c) => c.startsWith('route='));
  if (!renders('upstream.affinity')) {
    assert.equal(setCookie, undefined, 'declared not rendered in this mode: no cookie');
    return;
  }
  assert.ok(setCookie !== undefined, 'the first answer sets the affinity cookie');
  assert.match(setCookie, /^route=[0-9a-f]{16}; Path=\/sticky; Max-Age=60; HttpOnly$/);
  const cookie = setCookie.split(';')[0] ?? '';
  const pinned = echoOf(first).id;
  for (let i = 0; i < 6; i++) {
    const r = await request({ port: http, host: HOST, path: '/sticky', headers: { cookie: `other=1; ${cookie}` } });
    assert.equal(echoOf(r).id, pinned);
    assert.equal(r.headers['set-cookie'], undefined, 'a valid cookie is not set again');
  }
  const spread = new Set<string>();
  for (let i = 0; i < 6; i++) spread.add(echoOf(await request({ port: http, host: HOST, path: '/sticky' })).id);
  assert.deepEqual([...spread].sort(), ['sticky-a', 'sticky-b'], 'without the cookie, both endpoints serve');
  // A cookie naming no endpoint of the backend: a new pick and a new cookie.
  const stale = await request({ port: http, host: HOST, path: '/sticky', headers: { cookie: 'route=0000000000000000' } });
  assert.ok(stale.headers['set-cookie']?.some((c) => c.startsWith('route=') && !c.startsWith('route=0000000000000000')));
});

test('policy canary: header always/never, then cookie, then weight send a request to the canary backend or the main one', async () => {
  const who = async (path: string, headers: Record<string, string> = {}): Promise<string> => echoOf(await request({ port: http, host: HOST, path, headers })).id;
  const canary = renders('canary') ? 'next' : 'stable';
  assert.equal(await who('/release'), 'stable', 'no header, no cookie, no weight: the main backend');
  assert.equal(await who('/release', { 'x-canary': 'always' }), canary);
  assert.equal(await who('/release', { 'x-canary': 'never', cookie: 'canary=always' }), 'stable', 'the header decides before the cookie');
  assert.equal(await who('/release', { cookie: 'canary=always' }), canary);
  for (let i = 0; i < 4; i++) assert.equal(await who('/all-in'), canary, 'weight 100: every request');
});

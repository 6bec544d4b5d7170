import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressList } from '../../src/drivers/native/addresses.ts';
import { BasicAuthCache } from '../../src/drivers/native/middlewares.ts';
import { ConcurrencyLimiter, RateLimiter, affinityCookie, choosesCanary, compilePolicy, cookieValue, corsHeaders, policyClient, responseHeadersFor, rewriteTarget, runPolicy, setHeaders } from '../../src/drivers/native/policy.ts';
import type { PolicyRequest } from '../../src/drivers/native/policy.ts';
import type { RewritePolicy, RoutePolicy } from '../../src/model/policy.ts';
import type { EntryPoint, PathType, Route, RoutingModel } from '../../src/model/types.ts';

const ep = (name: string, port: number, tls: boolean, publicPort?: number): EntryPoint => ({ name, address: { port }, tls, middlewares: [], ...(publicPort === undefined ? {} : { publicPort }) });
const MODEL: RoutingModel = { entryPoints: [ep('http', 8000, false, 80), ep('https', 8443, true, 443)], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };
const route = (path: string, pathType: PathType = 'Prefix'): Route => ({ path, pathType, backend: 'default/b:80', source: { kind: 'Ingress', name: 'x', namespace: 'default' }, field: 'spec' });
const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ tls: false, host: 'a.test', path: '/', target: '/', client: '192.0.2.9', authorization: undefined, contentLength: undefined, method: 'GET', origin: undefined, ...over });

const rewrites: readonly { name: string; rewrite: RewritePolicy; route: Route; path: string; query?: string; expect: string }[] = [
  { name: 'prefix-target-keeps-the-rest', rewrite: { kind: 'prefix', target: '/v2' }, route: route('/api'), path: '/api/users', query: '?id=1', expect: '/v2/users?id=1' },
  { name: 'prefix-target-exact-match', rewrite: { kind: 'prefix', target: '/v2' }, route: route('/api'), path: '/api', expect: '/v2' },
  { name: 'prefix-target-with-slash', rewrite: { kind: 'prefix', target: '/v2/' }, route: route('/api'), path: '/api/users', expect: '/v2/users' },
  { name: 'prefix-target-root-route', rewrite: { kind: 'prefix', target: '/app' }, route: route('/'), path: '/x/y', expect: '/app/x/y' },
  { name: 'strip-prefix', rewrite: { kind: 'strip-prefix' }, route: route('/strip'), path: '/strip/a/b', query: '?q', expect: '/a/b?q' },
  { name: 'strip-prefix-to-root', rewrite: { kind: 'strip-prefix' }, route: route('/strip'), path: '/strip', expect: '/' },
  { name: 'strip-prefix-exact-route', rewrite: { kind: 'strip-prefix' }, route: route('/only', 'Exact'), path: '/only', expect: '/' },
  { name: 'replace-path-keeps-query', rewrite: { kind: 'replace-path', path: '/fixed' }, route: route('/r'), path: '/r/any', query: '?z=1', expect: '/fixed?z=1' },
  { name: 'regex-groups', rewrite: { kind: 'regex', pattern: '^/something(/|$)(.*)', target: '/$2' }, route: route('/something'), path: '/something/new', expect: '/new' },
  { name: 'regex-no-match-keeps-target', rewrite: { kind: 'regex', pattern: '^/other', target: '/x' }, route: route('/a'), path: '/a/b', expect: '/a/b' },
];
for (const c of rewrites) {
  test(`rewriteTarget: ${c.name}`, () => {
    assert.equal(rewriteTarget({ rewrite: c.rewrite }, c.route, c.path, c.path + (c.query ?? '')), c.expect);
  });
}

test('policyClient: the peer unless it is a trusted proxy; then the right-most untrusted X-Forwarded-For hop', () => {
  const trusted = addressList(['10.0.0.0/8']);
  assert.equal(policyClient(undefined, '10.0.0.1', '192.0.2.1'), '10.0.0.1');
  assert.equal(policyClient(trusted, '192.0.2.50', '10.9.9.9'), '192.0.2.50', 'an untrusted peer cannot claim an address');
  assert.equal(policyClient(trusted, '10.0.0.1', '198.51.100.7, 192.0.2.1, 10.0.0.2'), '192.0.2.1');
  assert.equal(policyClient(trusted, '10.0.0.1', 'garbage, 10.0.0.2'), '10.0.0.1', 'an unreadable hop stops the walk at the peer');
  assert.equal(policyClient(trusted, '10.0.0.1', undefined), '10.0.0.1');
});

test('setHeaders replaces same-named headers (any case) and appends the rest', () => {
  assert.deepEqual(setHeaders(['Server', 'x', 'X-Frame-Options', 'SAMEORIGIN'], ['x-frame-options', 'DENY']), ['Server', 'x', 'x-frame-options', 'DENY']);
  const same = ['a', '1'];
  assert.equal(setHeaders(same, []), same);
});

test('runPolicy: phase order — denied, redirect, sslRedirect (plain only), appRoot, allowlist, basic auth, body size', () => {
  const cache = new BasicAuthCache();
  const run = (policy: RoutePolicy, over: Partial<PolicyRequest> = {}): number | undefined => runPolicy(compilePolicy(policy, MODEL), req(over), cache)?.status;
  assert.equal(run({ denied: 'x', redirect: { url: 'https://e.test/', status: 301 } }), 503);
  // A Gateway API rule without a usable backendRef: 500 whatever else the route has; denied goes first.
  assert.equal(run({ internalError: 'no backendRef', headers: { response: { A: 'b' } } }), 500);
  assert.equal(run({ denied: 'x', internalError: 'no backendRef' }), 503);
  assert.equal(run({ redirect: { url: 'https://e.test/', status: 307 }, allowSourceRange: ['10.0.0.0/8'] }), 307);
  assert.equal(run({ sslRedirect: { status: 308 }, allowSourceRange: ['10.0.0.0/8'] }), 308);
  assert.equal(run({ sslRedirect: { status: 308 }, allowSourceRange: ['10.0.0.0/8'] }, { tls: true }), 403);
  assert.equal(run({ appRoot: '/app' }, { path: '/' }), 302);
  assert.equal(run({ appRoot: '/app' }, { path: '/x' }), undefined);
  assert.equal(run({ allowSourceRange: ['192.0.2.0/24'] }), undefined);
  assert.equal(run({ basicAuth: { realm: 'r', users: [{ user: 'u', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=' }], secret: 'default/s' } }), 401);
  const auth = `Basic ${Buffer.from('u:test').toString('base64')}`;
  assert.equal(run({ basicAuth: { realm: 'r', users: [{ user: 'u', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=' }], secret: 'default/s' } }, { authorization: auth }), undefined);
  assert.equal(run({ limits: { maxBodyBytes: 10 } }, { contentLength: 11 }), 413);
  assert.equal(run({ limits: { maxBodyBytes: 10 } }, { contentLength: 10 }), undefined);
  assert.equal(run({ limits: { maxBodyBytes: 0 } }, { contentLength: 1e9 }), undefined, '0: no limit');
});

test('runPolicy sslRedirect: the Location uses the TLS entry point public port (none when 443)', () => {
  const v = runPolicy(compilePolicy({ sslRedirect: { status: 308 } }, MODEL), req({ host: 'a.test', target: '/p?q=1' }), new BasicAuthCache());
  assert.equal(v?.headers['location'], 'https://a.test/p?q=1');
  const withPort = runPolicy(compilePolicy({ sslRedirect: { status: 308 } }, MODEL), req({ host: 'A.test:8080', target: '/' }), new BasicAuthCache());
  assert.equal(withPort?.headers['location'], 'https://a.test/', 'the port of the Host header is the plain one: dropped');
  const odd: RoutingModel = { ...MODEL, entryPoints: [ep('http', 80, false), ep('https', 8443, true)] };
  assert.equal(runPolicy(compilePolicy({ sslRedirect: { status: 301 } }, odd), req({ target: '/' }), new BasicAuthCache())?.headers['location'], 'https://a.test:8443/');
  const noTls: RoutingModel = { ...MODEL, entryPoints: [ep('http', 80, false)] };
  assert.equal(runPolicy(compilePolicy({ sslRedirect: { status: 308 } }, noTls), req(), new BasicAuthCache()), undefined, 'no TLS entry point: nothing to redirect to');
});

test('responseHeadersFor: HSTS only over TLS', () => {
  const p = compilePolicy({ hsts: { maxAgeSeconds: 60, includeSubdomains: false, preload: true }, headers: { response: { 'X-A': '1' } } }, MODEL);
  assert.deepEqual(responseHeadersFor(p, false), ['X-A', '1']);
  assert.deepEqual(responseHeadersFor(p, true), ['X-A', '1', 'strict-transport-security', 'max-age=60; preload']);
});

test('RateLimiter: a burst, then rps per second, per client', () => {
  let now = 0;
  const r = new RateLimiter(2, 4, () => now);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => r.take('a')), [true, true, true, true, false]);
  assert.equal(r.take('b'), true, 'another client has its own bucket');
  now = 500;
  assert.equal(r.take('a'), true, 'one token back after half a second at 2 rps');
  assert.equal(r.take('a'), false);
  now = 60_000;
  assert.deepEqual([1, 2, 3, 4, 5].map(() => r.take('a')), [true, true, true, true, false], 'refills up to the burst only');
});

test('ConcurrencyLimiter: at most max in progress per client; release frees a slot', () => {
  const c = new ConcurrencyLimiter(2);
  assert.deepEqual([c.acquire('a'), c.acquire('a'), c.acquire('a'), c.acquire('b')], [true, true, false, true]);
  c.release('a');
  assert.equal(c.acquire('a'), true);
});

test('corsHeaders: any origin, listed origins echoed with Vary, others get nothing; preflight adds max-age', () => {
  const any = compilePolicy({ cors: { allowOrigins: ['*'], allowMethods: ['GET', 'POST'], allowHeaders: ['X-A'], allowCredentials: false, maxAgeSeconds: 60 } }, MODEL).cors!;
  assert.deepEqual(corsHeaders(any, 'https://x.test'), ['access-control-allow-origin', '*', 'access-control-allow-methods', 'GET, POST', 'access-control-allow-headers', 'X-A']);
  const listed = compilePolicy({ cors: { allowOrigins: ['https://app.test'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 5 } }, MODEL).cors!;
  assert.deepEqual(corsHeaders(listed, 'https://app.test', { method: 'PUT', headers: 'X-B' }), ['access-control-allow-origin', 'https://app.test', 'vary', 'Origin', 'access-control-allow-credentials', 'true', 'access-control-allow-methods', 'GET', 'access-control-max-age', '5']);
  assert.deepEqual(corsHeaders(listed, 'https://evil.test'), []);
  assert.deepEqual(corsHeaders(listed, undefined), []);
});

const GATEWAY_CORS: readonly { readonly name: string; readonly cors: NonNullable<RoutePolicy['cors']>; readonly origin: string | undefined; readonly ask?: { method: string | undefined; headers: string | undefined }; readonly expect: readonly string[] }[] = [
  {
    name: 'an origin pattern matches one or more labels, and is echoed',
    cors: { allowOrigins: [], originPatterns: ['https://*.bar.test'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 5 },
    origin: 'https://a.b.bar.test',
    expect: ['access-control-allow-origin', 'https://a.b.bar.test', 'vary', 'Origin', 'access-control-allow-methods', 'GET'],
  },
  {
    name: 'a pattern matches not the domain itself, nor another port',
    cors: { allowOrigins: [], originPatterns: ['https://*.bar.test'], allowMethods: [], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 5 },
    origin: 'https://bar.test',
    expect: [],
  },
  {
    name: 'a pattern with a port needs that port',
    cors: { allowOrigins: [], originPatterns: ['https://*.bar.test:8443'], allowMethods: [], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 5 },
    origin: 'https://x.bar.test',
    expect: [],
  },
  {
    name: 'any origin with credentials is echoed, not *',
    cors: { allowOrigins: ['*'], echoOrigin: true, allowMethods: [], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 5 },
    origin: 'https://x.test',
    expect: ['access-control-allow-origin', 'https://x.test', 'vary', 'Origin', 'access-control-allow-credentials', 'true'],
  },
  {
    name: 'a preflight gets the method and headers it asks for when they are *',
    cors: { allowOrigins: ['*'], echoMethods: true, echoHeaders: true, allowMethods: [], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 7 },
    origin: 'https://x.test',
    ask: { method: 'PUT', headers: 'x-a, x-b' },
    expect: ['access-control-allow-origin', '*', 'access-control-max-age', '7', 'access-control-allow-methods', 'PUT', 'access-control-allow-headers', 'x-a, x-b'],
  },
  {
    name: 'the exposed headers are on every CORS answer, a preflight\'s too',
    cors: { allowOrigins: ['https://x.test'], exposeHeaders: ['x-c', 'x-d'], allowMethods: [], allowHeaders: [], allowCredentials: false, maxAgeSeconds: 5 },
    origin: 'https://x.test',
    ask: { method: 'GET', headers: undefined },
    expect: ['access-control-allow-origin', 'https://x.test', 'vary', 'Origin', 'access-control-expose-headers', 'x-c, x-d', 'access-control-max-age', '5'],
  },
];

for (const c of GATEWAY_CORS) {
  test(`corsHeaders (Gateway API CORS): ${c.name}`, () => {
    assert.deepEqual(corsHeaders(compilePolicy({ cors: c.cors }, MODEL).cors!, c.origin, c.ask), c.expect);
  });
}

test('session affinity: the cookie read from a Cookie header, and the Set-Cookie written (HttpOnly, the route path, Max-Age, SameSite)', () => {
  assert.equal(cookieValue('a=1; INGRESSCOOKIE=abc123; b=2', 'INGRESSCOOKIE'), 'abc123');
  assert.equal(cookieValue('XINGRESSCOOKIE=no', 'INGRESSCOOKIE'), undefined);
  assert.equal(cookieValue(undefined, 'INGRESSCOOKIE'), undefined);
  assert.equal(affinityCookie({ cookie: 'route' }, 'abc', '/shop'), 'route=abc; Path=/shop; HttpOnly');
  assert.equal(affinityCookie({ cookie: 'route', maxAgeSeconds: 3600, sameSite: 'None' }, 'abc', '/'), 'route=abc; Path=/; Max-Age=3600; SameSite=None; Secure; HttpOnly');
  assert.deepEqual(setHeaders(['Set-Cookie', 'app=1'], ['set-cookie', 'route=abc']), ['Set-Cookie', 'app=1', 'set-cookie', 'route=abc'], "the upstream's cookies are kept");
});

const canaryCases: readonly { name: string; canary: { header?: string; headerValue?: string; cookie?: string; weight?: number }; headers?: Record<string, string>; cookie?: string; random?: number; expect: boolean }[] = [
  { name: 'header-always', canary: { header: 'X-Canary' }, headers: { 'x-canary': 'always' }, expect: true },
  { name: 'header-never-beats-weight', canary: { header: 'X-Canary', weight: 100 }, headers: { 'x-canary': 'never' }, expect: false },
  { name: 'header-other-value-falls-to-weight', canary: { header: 'X-Canary', weight: 100 }, headers: { 'x-canary': 'maybe' }, random: 50, expect: true },
  { name: 'header-value-match', canary: { header: 'X-Region', headerValue: 'eu' }, headers: { 'x-region': 'eu' }, expect: true },
  { name: 'header-value-mismatch-falls-through', canary: { header: 'X-Region', headerValue: 'eu', weight: 0 }, headers: { 'x-region': 'always' }, expect: false },
  { name: 'cookie-always', canary: { cookie: 'canary' }, cookie: 'a=1; canary=always', expect: true },
  { name: 'header-before-cookie', canary: { header: 'X-Canary', cookie: 'canary' }, headers: { 'x-canary': 'never' }, cookie: 'canary=always', expect: false },
  { name: 'cookie-never-beats-weight', canary: { cookie: 'canary', weight: 100 }, cookie: 'canary=never', expect: false },
  { name: 'weight-below', canary: { weight: 30 }, random: 29.9, expect: true },
  { name: 'weight-above', canary: { weight: 30 }, random: 30, expect: false },
  { name: 'nothing-set-main', canary: {}, random: 0, expect: false },
];
for (const c of canaryCases) {
  test(`choosesCanary: ${c.name}`, () => {
    const headers = c.headers ?? {};
    assert.equal(choosesCanary({ backend: 'ns/canary:80', ...c.canary }, (n) => headers[n.toLowerCase()], c.cookie, c.random ?? 99), c.expect);
  });
}

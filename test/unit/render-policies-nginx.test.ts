/*
 * Route policies (src/model/policy.ts) rendered for nginx: one model with a route per policy on a plain,
 * a TLS and a trusting entry point with its own basic auth, compared with a golden render; and the
 * rewrite arithmetic against the native proxy's, which is the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rewriteTarget } from '../../src/drivers/native/policy.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, EntryPoint, Route, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, renderNginx } from '../../src/render/nginx/index.ts';
import { rewritePath, upstreamPath } from '../../src/render/nginx/policy.ts';
import * as nq from '../../src/render/nginx/quote.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORK = '/var/lib/passerelle';
const SRC = { kind: 'Ingress', namespace: 'default', name: 'policies' };
// bcrypt, $apr1$ and {SHA} hashes of "wonderland" (fixed: the golden file must not change).
const USERS = [
  { user: 'alice', hash: '$2b$04$1AOuAMR1q.E31nm9lh10Hu9BBgNq3KB.xnBuUk1oKjcRGieY5uOL6' },
  { user: 'bob', hash: '$apr1$QfyqMM/2$iHzOXTTnD/qTplLtYTfil0' },
  { user: 'bad:name', hash: '{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=' },
];

function golden(name: string, actual: string): void {
  const file = path.join(root, 'test/golden/render', name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from test/golden/render/${name} (UPDATE_GOLDEN=1 to accept)`);
}

function route(p: string, pathType: 'Exact' | 'Prefix', policy?: RoutePolicy, backend = 'default/site:80'): Route {
  return { path: p, pathType, backend, source: SRC, field: `spec.rules[0].http.paths[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

function backend(name: string, endpoints: Backend['endpoints']): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints, protocol: 'http' };
}

const ROUTES: readonly Route[] = [
  route('/replace', 'Prefix', { rewrite: { kind: 'replace-path', path: '/fixed' } }),
  route('/private', 'Prefix', { basicAuth: { realm: 'Private "area" $1', users: USERS, secret: 'default/auth' } }),
  route('/headers', 'Prefix', {
    headers: { request: { 'X-Tenant': 'blue', 'X-Forwarded-Proto': 'https' }, response: { 'X-Frame-Options': 'DENY', Link: '</a.css>; rel="preload"' } },
    upstream: { vhost: 'internal.svc' },
    hsts: { maxAgeSeconds: 31536000, includeSubdomains: true, preload: true },
  }),
  route('/office', 'Prefix', { allowSourceRange: ['10.0.0.0/8', '::1', 'not-a-range'] }),
  route('/denied', 'Prefix', { denied: 'the basic-auth Secret default/missing is not usable' }),
  route('/secure', 'Prefix', { sslRedirect: { status: 308 }, hsts: { maxAgeSeconds: 600, includeSubdomains: false, preload: false } }),
  route('/upload', 'Prefix', { limits: { maxBodyBytes: 1024 }, upstream: { tries: 1 } }),
  route('/moved', 'Prefix', { redirect: { url: 'https://elsewhere.test/new?a=$x', status: 301 } }),
  route('/strip', 'Prefix', { rewrite: { kind: 'strip-prefix' } }),
  route('/regex', 'Prefix', { rewrite: { kind: 'regex', pattern: '^/regex/(.*)', target: '/$1' } }),
  route('/down', 'Prefix', { basicAuth: { realm: 'Down', users: USERS, secret: 'default/auth' } }, 'default/down:80'),
  route('/cors-any', 'Prefix', { cors: { allowOrigins: ['*'], allowMethods: ['GET', 'PUT'], allowHeaders: ['X-Custom'], allowCredentials: false, maxAgeSeconds: 600 } }),
  route('/cors-app', 'Prefix', {
    cors: { allowOrigins: ['https://app.test', 'https://bad origin'], allowMethods: ['GET'], allowHeaders: [], allowCredentials: true, maxAgeSeconds: 60 },
    limits: { rps: 2, connections: 3 },
    allowSourceRange: ['10.0.0.0/8'],
  }),
  route('/slow', 'Prefix', { limits: { rps: 0.5 } }),
  route('/api', 'Exact', { rewrite: { kind: 'prefix', target: '/v1' } }),
  route('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }),
  // Canaries: header, cookie and weight; a header value and a rewrite; a canary without endpoints; a header nginx cannot read.
  route('/release', 'Prefix', { canary: { backend: 'default/next:80', header: 'X-Canary', cookie: 'beta.user', weight: 25 } }),
  route('/beta', 'Exact', { canary: { backend: 'default/next:80', header: 'X-Beta', headerValue: 'yes "please" $1' }, rewrite: { kind: 'prefix', target: '/b' } }),
  route('/shadow', 'Prefix', { canary: { backend: 'default/down:80', weight: 50 }, rewrite: { kind: 'strip-prefix' } }),
  route('/all-in', 'Prefix', { canary: { backend: 'default/next:80', weight: 100 } }),
  route('/odd', 'Prefix', { canary: { backend: 'default/next:80', header: 'X_Canary' } }),
  route('/', 'Prefix'),
];

function policyModel(): RoutingModel {
  const entryPoints: EntryPoint[] = [
    { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
    { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [] },
    {
      name: 'internal',
      address: { host: '127.0.0.1', port: 9000 },
      tls: false,
      trustedIPs: ['127.0.0.0/8'],
      middlewares: [{ kind: 'basicAuth', realm: 'internal', users: [USERS[1]!], removeHeader: true }],
    },
  ];
  const virtualHosts: VirtualHost[] = [
    { host: 'policy.test', kind: 'exact', sources: [SRC], routes: ROUTES },
    { host: 'root.test', kind: 'exact', sources: [SRC], routes: [route('/', 'Prefix', { appRoot: '/app/', rewrite: { kind: 'prefix', target: '/v3' } })] },
  ];
  return {
    entryPoints,
    virtualHosts,
    backends: {
      'default/down:80': backend('down', []),
      'default/site:80': backend('site', [{ address: '10.0.0.1', port: 8080, weight: 1 }]),
      'default/next:80': backend('next', [{ address: '10.0.0.2', port: 8080, weight: 1 }]),
    },
    certificates: [],
    diagnostics: [],
  };
}

test('golden: nginx locations of a route per policy (plain, TLS, and a trusting entry point with basic auth)', () => {
  const model = policyModel();
  const r = renderNginx(model, { workDir: WORK, headersMoreModule: null });
  golden('nginx-policies.txt', formatDryRun(r));
  // The same with the headers-more module: more_set_headers instead of proxy_hide_header + add_header.
  const more = renderNginx(model, { workDir: WORK }).main.content;
  assert.match(more, /more_set_headers "X-Frame-Options: \$pass_rh_0";/);
  assert.doesNotMatch(more, /add_header/);
});

test('nginx policies: the auxiliary files and the diagnostics', () => {
  const r = renderNginx(policyModel(), { workDir: WORK });
  const file = r.files.find((f) => f.path === 'auth/route.default.auth.htpasswd');
  assert.equal(file?.content, `alice:${USERS[0]!.hash}\nbob:${USERS[1]!.hash}\n`, 'one file per Secret, the unwritable user left out');
  assert.equal(file?.workerReadable, true);
  assert.deepEqual(
    r.diagnostics.map((d) => [d.code, d.field, d.message]),
    [
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/regex]', 'a regex rewrite-target is not supported in nginx mode; the route answers 503'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/odd]', 'nginx cannot read the canary header of this route (a name of letters, digits and - only); the main backend serves every request'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/private]', 'nginx cannot check a route basic auth together with the entry point basic auth; the route answers 503'],
      ['PASS_NGINX_AUTH_USER', undefined, 'users "bad:name" of the basic-auth Secret default/auth cannot be written to an htpasswd file; they cannot log in'],
    ],
    'each reported once, whatever the locations and servers of the route',
  );
});

test('nginx policies: locations answer in native order, and what nginx cannot render answers 503 saying why', () => {
  const { view } = buildNginxView(policyModel(), { workDir: WORK });
  const server = (ep: string) => view.servers.find((s) => s.entryPoint === ep && !s.defaultServer && s.names.includes('policy.test'));
  const loc = (ep: string, p: string) => server(ep)?.locations.find((l) => l.path === p);
  assert.deepEqual(loc('web', '/secure/')?.action.redirect, { https: { port: 8443 }, appRoot: null });
  assert.equal(loc('websecure', '/secure/')?.action.proxy, 'be_default.site_80', 'no ssl-redirect over TLS');
  assert.deepEqual(loc('websecure', '/secure/')?.policy?.responseHeaders.map((h) => h.name), ['Strict-Transport-Security']);
  assert.equal(loc('web', '/secure/')?.policy, null);
  assert.equal(loc('web', '/regex/')?.action.body, 'Service Unavailable: a regex rewrite-target is not supported in nginx mode');
  assert.equal(loc('internal', '/private/')?.action.status, 503, 'entry point and route basic auth together');
  assert.equal(loc('internal', '/down/')?.action.body, 'Service Unavailable: no endpoint is ready');
  assert.deepEqual(loc('internal', '/office/')?.policy?.allow, { ranges: ['10.0.0.0/8', '::1'] }, 'an unreadable range narrows the allowlist');
  assert.deepEqual(loc('internal', '/office/')?.policy?.realIpFrom, ['127.0.0.0/8']);
  assert.deepEqual(loc('web', '/office/')?.policy?.realIpFrom, []);
  assert.equal(view.dollar, true);
  assert.deepEqual(view.responseValues, ['DENY', '</a.css>; rel="preload"', 'max-age=31536000; includeSubDomains; preload', 'max-age=600']);
  // One zone per route and kind, shared by its locations and servers.
  assert.deepEqual(view.limitZones, [
    { name: 'pass_rate_0', rate: { amount: 2, perMinute: false } },
    { name: 'pass_conn_1', rate: null },
    { name: 'pass_rate_2', rate: { amount: 30, perMinute: true } },
  ]);
  assert.deepEqual(loc('internal', '/cors-app')?.policy?.rate, { zone: 'pass_rate_0', burst: 9 });
  assert.deepEqual(view.cors[1]?.origins, ['~^https://app\\.test\\z'], 'a case-sensitive regex; an origin nginx cannot hold is left out');
});

test('nginx policies: the proxy_pass path of each location gives what the native rewrite gives', () => {
  const cases: [Route, string][] = [
    [route('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }), '/api/users/7'],
    [route('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2/' } }), '/api/users'],
    [route('/api', 'Prefix', { rewrite: { kind: 'prefix', target: 'v2' } }), '/api/a/b'],
    [route('/api', 'Prefix', { rewrite: { kind: 'strip-prefix' } }), '/api/a/b'],
    [route('/', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }), '/a/b'],
    [route('/', 'Prefix', { rewrite: { kind: 'strip-prefix' } }), '/a/b'],
    [route('/api', 'Exact', { rewrite: { kind: 'prefix', target: '/v1' } }), '/api'],
  ];
  for (const [r, p] of cases) {
    const modifier = r.pathType === 'Exact' ? '=' : r.path === '/' ? '' : '^~';
    const location = r.pathType === 'Exact' || r.path === '/' ? r.path : `${r.path}/`;
    const up = upstreamPath(r, modifier, location);
    assert.ok(up !== undefined && !up.whole);
    // nginx: the part the location matched is replaced by the proxy_pass path.
    const nginx = modifier === '=' ? up.path : up.path + p.slice(location.length);
    assert.equal(`${nginx}?q=1`, rewriteTarget(r.policy ?? {}, r, p, `${p}?q=1`), `${r.path} ${JSON.stringify(r.policy?.rewrite)} ${p}`);
    // The exact locations `= /p` and `= /` get the rewrite of that path.
    const bare = r.pathType === 'Exact' ? r.path : r.path === '/' ? '/' : r.path;
    assert.equal(`${upstreamPath(r, '=', bare)?.path}?q=1`, rewriteTarget(r.policy ?? {}, r, bare, `${bare}?q=1`));
    assert.equal(rewritePath(r, p), rewriteTarget(r.policy ?? {}, r, p, p));
  }
});

test('nginx text helper: any printable text, quoted so that it never names a variable nor ends the string', () => {
  assert.equal(nq.text('a "b" \\c $d {;}'), '"a \\"b\\" \\\\c ${pass_dollar}d {;}"');
  for (const bad of ['a\nb', 'x\u0000', 'é', 'a'.repeat(4097), 7]) assert.throws(() => nq.text(bad), /refusing/);
});

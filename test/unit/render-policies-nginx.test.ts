/*
 * Route policies (src/model/policy.ts) rendered for nginx: one model with a route per policy on a plain,
 * a TLS and a trusting entry point with its own basic auth, compared with a golden render; and the
 * rewrite arithmetic against the native proxy's, which is the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteTarget } from '../../src/drivers/native/policy.ts';
import type { Route } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, renderNginx } from '../../src/render/nginx/index.ts';
import { rewritePath, upstreamPath } from '../../src/render/nginx/policy.ts';
import * as nq from '../../src/render/nginx/quote.ts';
import { affinityToken, authHeaderVariable, authTarget } from '../../src/render/nginx/upstream.ts';
import { policyModel, route, USERS } from '../integration/nginx/policy-model.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';

test('golden: nginx locations of a route per policy (plain, TLS, and a trusting entry point with basic auth)', () => {
  const model = policyModel();
  const r = renderNginx(model, { workDir: WORK, headersMoreModule: null });
  golden('nginx-policies.txt', formatDryRun(r));
  // The same with the headers-more module: more_set_headers instead of proxy_hide_header + add_header.
  const more = renderNginx(model, { workDir: WORK }).main.content;
  assert.match(more, /more_set_headers "X-Frame-Options: \$pass_rh_0";/);
  assert.doesNotMatch(more, /add_header (?!Set-Cookie)/, "only the affinity cookie is added (a Set-Cookie more, never the upstream's replaced)");
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
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/sso-bad]', 'the external auth URL cannot be written into the nginx configuration (http(s), no user info, a path of URL characters); the route answers 503'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/sso-dollar]', 'the external auth URL cannot be written into the nginx configuration (http(s), no user info, a path of URL characters); the route answers 503'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/sso-header]', 'an auth response header of this route is not a name of letters, digits and - that nginx can copy; the route answers 503'],
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
  assert.deepEqual(loc('web', '/secure/')?.action.redirect, { https: { port: 8443 }, appRoot: null, www: null });
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

test('nginx upstream variants: least_conn (ewma too) and per-endpoint affinity upstreams, named from the base, shared by routes; at most 16 backups each', () => {
  const { view } = buildNginxView(policyModel(), { workDir: WORK });
  const names = view.upstreams.map((u) => u.name);
  assert.deepEqual(
    names.filter((n) => n.startsWith('be_default.pool_80')),
    ['be_default.pool_80', 'be_default.pool_80__lc', ...view.upstreams.filter((u) => u.name.includes('__a')).map((u) => u.name)],
    'one least_conn variant for /least, /ewma and /sticky',
  );
  assert.equal(view.upstreams.find((u) => u.name === 'be_default.pool_80__lc')?.leastConn, true);
  const pinned = view.upstreams.filter((u) => u.name.startsWith('be_default.pool_80__a'));
  assert.equal(pinned.length, 3);
  for (const u of pinned) {
    assert.deepEqual(u.servers.map((s) => s.backup), [false, true, true], u.name);
    assert.equal(u.name, `be_default.pool_80__a${affinityToken(u.servers[0]!.host, u.servers[0]!.port)}`);
  }
  // Many endpoints: backups are capped (n pinned upstreams of n servers would grow as n²).
  const many = policyModel();
  const endpoints = Array.from({ length: 40 }, (_, i) => ({ address: `10.1.0.${i + 1}`, port: 80, weight: 1 }));
  const big = buildNginxView({ ...many, backends: { ...many.backends, 'default/pool:80': { ...many.backends['default/pool:80']!, endpoints } } }, { workDir: WORK }).view;
  const first = big.upstreams.find((u) => u.name === `be_default.pool_80__a${affinityToken('10.1.0.1', 80)}`);
  assert.deepEqual(first?.servers.map((s) => s.host), ['10.1.0.1', ...Array.from({ length: 16 }, (_, i) => `10.1.0.${i + 2}`)]);
  assert.equal(big.affinities[0]?.pins.length, 40);
});

test('nginx affinity and external auth views: what a client sends is only ever matched, never written; an auth host that does not resolve denies the route with PASS_NGINX_AUTH_HOST', () => {
  const { view } = buildNginxView(policyModel(), { workDir: WORK });
  const aff = view.affinities[0]!;
  assert.equal(aff.fallback, 'be_default.pool_80__lc');
  assert.ok(aff.pins.every((p) => /^~\^[0-9a-f]{16}\\z$/.test(p.pattern)), 'exact tokens only');
  assert.ok(aff.pins.every((p) => p.upstream.startsWith('be_default.pool_80__a')), 'map results are upstream names');
  assert.equal(aff.setCookie.suffix, '; Path=/sticky; Max-Age=60; SameSite=None; Secure; HttpOnly');
  const server = view.servers.find((s) => s.entryPoint === 'web' && s.names.includes('policy.test'));
  assert.deepEqual(server?.authChecks, [
    { uri: '/_pass|auth|0', url: 'http://10.0.0.9:9000/verify?a=1&b=2' },
    { uri: '/_pass|auth|1', url: 'https://auth.test/verify' },
  ]);
  assert.deepEqual(server?.signins, [{ name: 'pass_signin_0', prefix: 'https://login.test/start?x="$1"&rd=', suffix: '', url: 'https://login.test/start?x="$1"' }]);
  const sso = server?.locations.find((l) => l.path === '/sso/');
  assert.deepEqual(sso?.policy?.externalAuth?.sets, [
    { variable: 'pass_auth_x_user', upstream: 'upstream_http_x_user' },
    { variable: 'pass_auth_x_email', upstream: 'upstream_http_x_email' },
  ]);
  // A header the auth answer is not asked for stays the route's own.
  const plain = server?.locations.find((l) => l.path === '/sso-plain');
  assert.deepEqual(plain?.policy?.requestHeaders.filter((h) => h.name === 'X-User'), [{ name: 'X-User', value: 'forged-by-route', variable: false }]);
  assert.deepEqual(sso?.policy?.requestHeaders.filter((h) => h.variable), [
    { name: 'X-User', value: 'pass_auth_x_user', variable: true },
    { name: 'X-Email', value: 'pass_auth_x_email', variable: true },
  ]);
  const lost = buildNginxView(policyModel(), { workDir: WORK, resolvesHost: (h) => (h === 'auth.test' ? false : undefined) });
  const denied = lost.view.servers.find((s) => s.entryPoint === 'web' && s.names.includes('policy.test'))?.locations.find((l) => l.path === '/sso-plain');
  assert.equal(denied?.action.body, 'Service Unavailable: the external auth host auth.test does not resolve');
  assert.deepEqual(
    lost.diagnostics.filter((d) => d.code === 'PASS_NGINX_AUTH_HOST').map((d) => [d.severity, d.field]),
    [['error', 'spec.rules[0].http.paths[/sso-plain]']],
    'reported once',
  );
});

test('nginx helpers of the upstream policies refuse what they cannot write', () => {
  assert.equal(nq.splice('a="$b"', 'pass_x', ';c\\'), '"a=\\"${pass_dollar}b\\"${pass_x};c\\\\"');
  for (const bad of [['x', 'a b'], ['x', '$y'], ['x\n', 'y'], ['x', 'y}z']]) assert.throws(() => nq.splice(...bad), /refusing/);
  assert.equal(nq.authUrl('http://10.0.0.1:80/a?b=1&c'), '"http://10.0.0.1:80/a?b=1&c"');
  for (const bad of ['http://h/$x', 'http://h/a b', 'http://h/"', 'ftp://h/', 'http://u@h/', 'http://h/{x}', 'http://h']) assert.throws(() => nq.authUrl(bad), /refusing/, bad);
  // The redirect URL leaves out the scheme's default port and refuses what is not a port, scheme or host.
  assert.equal(nq.wwwUrl({ host: 'a.test', status: 308 }, true, 443), '"https://a.test${request_uri}"');
  assert.equal(nq.wwwUrl({ status: 308 }, false, 80), '"http://${host}${request_uri}"');
  assert.equal(nq.wwwUrl({ host: 'a.test', status: 308 }, false, 443), '"http://a.test:443${request_uri}"');
  assert.throws(() => nq.wwwUrl({ status: 308 }, false, '80;'), /refusing/);
  assert.throws(() => nq.wwwUrl({ port: 0, status: 308 }, false, 80), /refusing/);
  assert.throws(() => nq.wwwUrl({ host: 'a.test;x', status: 308 }, false, 80), /refusing/);
  assert.throws(() => nq.wwwUrl({ scheme: 'ftp', status: 308 }, false, 80), /refusing/);
  assert.equal(authTarget({ url: 'http://user:pw@auth.test/', responseHeaders: [] }), undefined);
  assert.deepEqual(authTarget({ url: 'https://Auth.Test:8443/v?x=%20', responseHeaders: [] }), { url: 'https://auth.test:8443/v?x=%20', host: 'auth.test', isName: true });
  assert.deepEqual(authTarget({ url: 'http://[::1]/v', responseHeaders: [] }), { url: 'http://[::1]/v', host: '::1', isName: false });
  assert.equal(authHeaderVariable('X_User'), undefined);
  assert.equal(authHeaderVariable('X-User'), 'pass_auth_x_user');
});

test('nginx: internalError (a Gateway API rule without a usable backendRef) answers 500 with its reason', () => {
  const model = policyModel();
  const failing = { ...model, virtualHosts: model.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => (r.path === '/denied' ? { ...r, policy: { internalError: 'no backendRef' } } : r)) })) };
  const { view } = buildNginxView(failing, { workDir: WORK });
  const actions = view.servers.flatMap((s) => s.locations.filter((l) => l.path === '/denied').map((l) => l.action));
  assert.ok(actions.length > 0);
  for (const a of actions) assert.deepEqual([a.status, a.body], [500, 'Internal Server Error: no backendRef']);
});

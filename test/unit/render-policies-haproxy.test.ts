/*
 * Route policies (src/model/policy.ts) rendered for HAProxy: one model with a route per policy on a plain,
 * a TLS and a trusting entry point with its own basic auth, compared with a golden render; how a policy
 * attaches to its routes through the routing map (so that route changes stay runtime map updates);
 * and the rewrite arithmetic against the native proxy's, which is the reference. haproxy -c reads the
 * same rendering in test/integration/haproxy/policies.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteTarget } from '../../src/drivers/native/policy.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Route, RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy, ROUTES_MAP } from '../../src/render/haproxy/index.ts';
import { rewritePath, rewriteView } from '../../src/render/haproxy/policy.ts';
import * as hq from '../../src/render/haproxy/quote.ts';
import { policyModel, policyRoute, USERS } from '../integration/haproxy/policy-model.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';

/** The routing map of a rendering: key → value. */
function routesMap(model: RoutingModel): Map<string, string> {
  const r = renderHaproxy(model, { workDir: WORK });
  const file = r.files.find((f) => f.path === ROUTES_MAP);
  return new Map((file?.content ?? '').split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]));
}

test('golden: haproxy route policies (plain, TLS, and a trusting entry point with basic auth)', () => {
  golden('haproxy-policies.txt', formatDryRun(renderHaproxy(policyModel(), { workDir: WORK })));
});

test('haproxy policies: the routing map names each route policy after its backend, and its ssl-redirect status', () => {
  const map = routesMap(policyModel());
  const value = (key: string): string[] => (map.get(key) ?? '').split(';');
  assert.deepEqual(value('v0/'), ['be_default.site:80'], 'a route without policy: the backend alone');
  assert.deepEqual(value('v0/secure/').slice(2), ['308'], 'ssl-redirect is read from the map by constant rules');
  const [be, id] = value('v0/office/');
  assert.equal(be, 'be_default.site:80');
  assert.match(id ?? '', /^p[0-9a-f]{12}$/);
  assert.equal(value('v0/moved/')[2], undefined, 'a redirect answers before ssl-redirect');
  // Two routes with the same policy share it.
  assert.equal(value('v0/office2/')[1], id);
});

test('haproxy policies: the views, in the native order of answers, and what HAProxy cannot render answers 503 saying why', () => {
  const { view, diagnostics, routeAuth } = buildHaproxyView(policyModel(), { workDir: WORK });
  const map = routesMap(policyModel());
  const policyOf = (key: string) => view.policies.find((p) => p.id === (map.get(key) ?? '').split(';')[1]);
  assert.equal(policyOf('v0/regex/')?.denied, 'Service Unavailable: the regex rewrite cannot be written into the HAProxy configuration', 'a pattern outside the regex path grammar');
  assert.equal(policyOf('v0/bad-header/')?.denied, 'Service Unavailable: a header of this route cannot be written into the HAProxy configuration');
  assert.deepEqual(policyOf('v0/external/')?.externalAuth, { url: 'https://auth.test/', signin: '-', headers: '-' });
  assert.equal(policyOf('v0/external-bad/')?.denied, 'Service Unavailable: the external authentication URL, sign-in URL or a header name cannot be written into the HAProxy configuration', 'never served open');
  assert.deepEqual(policyOf('v0/office/')?.allow, { ranges: ['10.0.0.0/8', '::1'] }, 'an unreadable range narrows the allowlist');
  assert.equal(policyOf('v0/office/')?.judgesClient, true);
  assert.deepEqual(policyOf('v0/nobody/')?.allow, { ranges: [] }, 'no readable range: nobody is allowed');
  assert.deepEqual(policyOf('v0/cors-app/')?.cors?.origins, ['https://app.test'], 'an origin HAProxy cannot hold is left out');
  assert.deepEqual(policyOf('v0/cors-app/')?.rate, { table: `pass_rate_${policyOf('v0/cors-app/')?.id ?? ''}`, count: 10, periodMs: 5000, expireMs: 10_000 });
  assert.deepEqual(policyOf('v0/slow/')?.rate?.count, 3);
  assert.deepEqual(policyOf('v0/slow/')?.rate?.periodMs, 6000, 'below 1 rps the period grows: 3 requests in 6 s');
  assert.equal(policyOf('v0/upload/')?.maxBody, 1024);
  assert.equal(policyOf('v0/unlimited/'), undefined, 'proxy-body-size 0: no limit, no policy');
  assert.equal(policyOf('v0/impatient/')?.serverTimeout, 500);
  assert.deepEqual(view.serverTimeouts, [{ ms: 500, policies: [policyOf('v0/impatient/')?.id ?? ''] }]);
  const auth = policyOf('v0/private/')?.auth;
  assert.equal(auth?.realm, 'passerelle', 'a realm with a quote falls back');
  assert.deepEqual(auth?.cryptUsers.map((u) => u.user), ['alice']);
  assert.match(auth?.shaMap ?? '', /\/auth\/routes\/p[0-9a-f]{12}-sha\.map$/);
  assert.deepEqual(routeAuth, [{ key: auth?.key, users: [USERS[1]] }], 'the $apr1$ user is checked by the controller, by key');
  assert.match(auth?.key ?? '', /^route\.[0-9a-f]{20}$/);
  assert.deepEqual(view.sslRedirect, { port: 8443, codes: [301, 302, 303, 307, 308] });
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.field]),
    [
      ['PASS_HAPROXY_AUTH_USER', 'spec.rules[0].http.paths[/private]'],
      ['PASS_HAPROXY_AUTH_REALM', 'spec.rules[0].http.paths[/private]'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/regex]'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/bad-header]'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/external-bad]'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[0].http.paths[/canary-odd]'],
    ],
  );
  assert.deepEqual(policyOf('v0/canary/')?.canary, { backend: 'be_default.down:80', header: 'X-Canary', headerValue: null, cookie: 'canary', weight: 10 });
  assert.equal(policyOf('v0/canary-value/')?.canary?.headerValue, "blue 'v2'", 'any printable header value, double-quoted');
  assert.equal(policyOf('v0/canary-odd/'), undefined, 'a cookie name HAProxy cannot write: the main backend serves every request, as without canaries');
});

test('haproxy policies: route changes stay runtime map updates while the set of policies is the same', () => {
  const base = policyModel();
  const a = renderHaproxy(base, { workDir: WORK });
  const routes = base.virtualHosts[0]?.routes ?? [];
  const withRoutes = (list: readonly Route[]): RoutingModel => ({ ...base, virtualHosts: [{ ...base.virtualHosts[0]!, routes: list }, ...base.virtualHosts.slice(1)] });
  const office = routes.find((r) => r.path === '/office');
  assert.ok(office);
  // A plain route added, a route reusing an existing policy added, the routes in another order (Regex
  // routes keep theirs: it is their match order).
  const regex = routes.filter((r) => r.pathType === 'Regex');
  const more = withRoutes([...[policyRoute('/new', 'Prefix'), { ...office, path: '/office3' }, ...routes.filter((r) => r.pathType !== 'Regex')].reverse(), ...regex]);
  const b = renderHaproxy(more, { workDir: WORK });
  assert.notEqual(b.checksum, a.checksum);
  assert.equal(b.structure, a.structure, 'the same policies: only the routing map changed');
  // A route that loses its policy while another route keeps it: the map alone, and no stale policy.
  const open = withRoutes(routes.map((r) => (r.path === '/office2' ? policyRoute('/office2', 'Prefix') : r)));
  assert.equal(renderHaproxy(open, { workDir: WORK }).structure, a.structure);
  assert.equal(routesMap(open).get('v0/office2/'), 'be_default.site:80');
  // ssl-redirect alone is in the map only: a route gaining it is no reload either.
  const ssl = withRoutes(routes.map((r) => (r.path === '/' ? policyRoute('/', 'Prefix', { sslRedirect: { status: 301 } }) : r)));
  assert.equal(renderHaproxy(ssl, { workDir: WORK }).structure, a.structure);
  assert.equal(routesMap(ssl).get('v0/'), 'be_default.site:80;;301');
  // A changed policy is a reload.
  const changed = withRoutes(routes.map((r) => (r.path === '/office' ? policyRoute('/office', 'Prefix', { allowSourceRange: ['192.168.0.0/16'] }) : r)));
  assert.notEqual(renderHaproxy(changed, { workDir: WORK }).structure, a.structure);
});

test('haproxy policies: the path each rewrite gives is what the native rewrite gives', () => {
  const cases: [Route, string[]][] = [
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }), ['/api', '/api/', '/api/users/7']],
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2/' } }), ['/api', '/api/', '/api/users']],
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'prefix', target: 'v2' } }), ['/api', '/api/a/b']],
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'prefix', target: '/' } }), ['/api', '/api/', '/api/a/b']],
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'strip-prefix' } }), ['/api', '/api/', '/api/a/b']],
    [policyRoute('/a/b', 'Prefix', { rewrite: { kind: 'strip-prefix' } }), ['/a/b', '/a/b/c']],
    [policyRoute('/', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2' } }), ['/', '/a/b']],
    [policyRoute('/', 'Prefix', { rewrite: { kind: 'prefix', target: '/v2/' } }), ['/', '/a/b']],
    [policyRoute('/api', 'Exact', { rewrite: { kind: 'prefix', target: '/v1' } }), ['/api']],
    [policyRoute('/api', 'Prefix', { rewrite: { kind: 'replace-path', path: '/fixed' } }), ['/api', '/api/x']],
  ];
  for (const [r, paths] of cases) {
    const rw = rewriteView(r);
    assert.ok(rw !== undefined && rw !== null, JSON.stringify(r.policy?.rewrite));
    for (const p of paths) {
      // HAProxy: the route's own path gives `whole`, any other `prefix` and the path from `offset` on.
      const haproxy: string = rw.match === null || p === rw.match ? rw.whole : rw.prefix + p.slice(rw.offset);
      assert.equal(`${haproxy}?q=1`, rewriteTarget(r.policy ?? {}, r, p, `${p}?q=1`), `${r.pathType} ${r.path} ${JSON.stringify(r.policy?.rewrite)} ${p}`);
      assert.equal(rewritePath(r, p), haproxy);
    }
  }
  assert.equal(rewriteView(policyRoute('/', 'Prefix', { rewrite: { kind: 'strip-prefix' } })), null, 'strip-prefix of / changes nothing');
  assert.equal(rewriteView(policyRoute('/r', 'Prefix', { rewrite: { kind: 'regex', pattern: '^/r/(.*)', target: '/$1' } })), undefined);
  assert.equal(rewriteView(policyRoute('/r', 'Prefix', { rewrite: { kind: 'prefix', target: '/a b' } })), undefined, 'a target outside the path grammar');
});

test('haproxy quoting helpers for policies: text, log-format text, header names and sizes', () => {
  assert.equal(hq.text('a "b" \\c $d %e #f \'g\''), '"a \\"b\\" \\\\c \\$d %e #f \'g\'"');
  assert.equal(hq.format('100% "sure" $x'), '"100%% \\"sure\\" \\$x"');
  for (const bad of ['a\nb', 'x\u0000', 'é', 'a'.repeat(4097), 7]) {
    assert.throws(() => hq.text(bad), /refusing/);
    assert.throws(() => hq.format(bad), /refusing/);
  }
  assert.equal(hq.headerName('X-Frame-Options'), 'X-Frame-Options');
  for (const bad of ['X Y', 'a:b', 'a"b', '', 'a'.repeat(101)]) assert.throws(() => hq.headerName(bad), /refusing/);
  assert.equal(hq.size(10 * 1024 ** 3), '10737418240');
  for (const bad of [-1, 1.5, 2 ** 53, '7']) assert.throws(() => hq.size(bad), /refusing/);
});

test('haproxy policies: hostile values in a policy end quoted in one directive, or refuse the route', () => {
  const hostile: RoutePolicy = {
    headers: { request: { 'X-A': 'v\'; http-request deny #', 'X-B': '%[src] "$HOME" \\' }, response: { 'X-C': 'ok' } },
    appRoot: '/app%20x',
  };
  const model: RoutingModel = { ...policyModel(), virtualHosts: [{ host: 'h.test', kind: 'exact', sources: [], routes: [policyRoute('/', 'Prefix', hostile)] }] };
  const text = renderHaproxy(model, { workDir: WORK }).main.content;
  assert.ok(text.includes(`http-request set-header X-A "v'; http-request deny #" if pass_`));
  assert.ok(text.includes('http-request set-header X-B "%%[src] \\"\\$HOME\\" \\\\" if pass_'));
  assert.ok(text.includes('://%[req.fhdr(host)]"/app%%20x" code 302 if pass_'));
});

test('haproxy upstream policies: variant backends per (backend, settings), with the base\'s slots; routes and canaries select them through the map', () => {
  const { view } = buildHaproxyView(policyModel(), { workDir: WORK });
  const map = routesMap(policyModel());
  const backendOf = (key: string): string => (map.get(key) ?? '').split(';')[0] ?? '';
  const base = view.backends.find((b) => b.name === 'be_default.site:80');
  assert.equal(base?.upstream, null);
  const variant = (key: string) => view.backends.find((b) => b.name === backendOf(key));
  for (const key of ['v0/tls/', 'v0/tls-host/', 'v0/grpc/', 'v0/grpcs/', 'v0/least/', 'v0/sticky/', 'v0/retry/', 'v0/upload/']) {
    const v = variant(key);
    assert.match(v?.name ?? '', /^be_default\.site:80_v[0-9a-f]{8}$/, key);
    assert.equal(v?.id, 'default/site:80');
    assert.deepEqual(v?.servers, base?.servers, `${key}: the same server slots as its base`);
  }
  assert.equal(backendOf('v0/least/'), backendOf('v0/least2/'), 'the same settings share a variant whatever the rest of the policy');
  assert.equal(new Set(view.backends.map((b) => b.name)).size, view.backends.length);
  assert.deepEqual(variant('v0/tls/')?.upstream, { tls: true, h2: false, sni: 'str(internal.svc)', balance: null, ewma: false, retries: null, connectMs: null, gatewayTimeoutMs: null, cookie: null });
  assert.equal(variant('v0/tls-host/')?.upstream?.sni, 'var(txn.host)');
  assert.deepEqual([variant('v0/grpc/')?.upstream?.h2, variant('v0/grpc/')?.upstream?.tls], [true, false]);
  assert.deepEqual([variant('v0/grpcs/')?.upstream?.h2, variant('v0/grpcs/')?.upstream?.tls, variant('v0/grpcs/')?.upstream?.balance], [true, true, 'leastconn'], 'ewma: leastconn');
  assert.deepEqual([variant('v0/retry/')?.upstream?.retries, variant('v0/retry/')?.upstream?.connectMs, variant('v0/retry/')?.upstream?.gatewayTimeoutMs], [2, 2000, 5000]);
  assert.equal(variant('v0/grpcs/')?.upstream?.ewma, true);
  assert.equal(variant('v0/upload/')?.upstream?.retries, 0, 'tries 1: no retry');
  assert.deepEqual(variant('v0/sticky/')?.upstream?.cookie, { name: 'route.id', match: '^route\\.id=([0-9a-f]{16}); path=/$', replacement: 'route.id=\\1; Path=/sticky; Max-Age=60; SameSite=None; Secure; HttpOnly' });
  // A canary of a route with upstream settings reaches its pods the same way.
  const canary = view.policies.find((p) => p.id === (map.get('v0/canary-tls/') ?? '').split(';')[1])?.canary;
  assert.match(canary?.backend ?? '', /^be_default\.down:80_v[0-9a-f]{8}$/);
  assert.equal(view.backends.find((b) => b.name === canary?.backend)?.upstream?.tls, true);
  // Variants of a backend whose Service is missing say why, as their base.
  const m = policyModel();
  const missing: RoutingModel = { ...m, backends: { ...m.backends, 'default/down:80': { ...m.backends['default/down:80']!, unresolved: 'service' } } };
  const unavailable = renderHaproxy(missing, { workDir: WORK }).files.find((f) => f.path === 'maps/unavailable.map')?.content ?? '';
  assert.deepEqual(unavailable.split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]), ['be_default.down:80', canary?.backend]);
});

test('haproxy upstream policies: an affinity cookie value belongs to a server slot, so it survives other endpoints coming and going', () => {
  const m = policyModel();
  const site = m.backends['default/site:80']!;
  const withEndpoints = (eps: typeof site.endpoints): RoutingModel => ({ ...m, backends: { ...m.backends, 'default/site:80': { ...site, endpoints: eps } } });
  const a = { address: '10.0.0.1', port: 8080, weight: 1 };
  const b = { address: '10.0.0.2', port: 8080, weight: 1 };
  const c = { address: '10.0.0.3', port: 8080, weight: 1 };
  const first = buildHaproxyView(withEndpoints([a, b]), { workDir: WORK });
  const sticky = (v: typeof first.view) => v.backends.find((x) => x.upstream?.cookie !== null && x.upstream !== null && x.id === 'default/site:80');
  const cookieOf = (v: typeof first.view, host: string) => sticky(v)?.servers.find((s) => s.host === host && !s.disabled)?.cookie;
  const second = buildHaproxyView(withEndpoints([c, a]), { workDir: WORK }, first.layout);
  assert.equal(cookieOf(second.view, '10.0.0.1'), cookieOf(first.view, '10.0.0.1'));
  assert.match(cookieOf(second.view, '10.0.0.3') ?? '', /^[0-9a-f]{16}$/);
  assert.notEqual(cookieOf(second.view, '10.0.0.3'), cookieOf(second.view, '10.0.0.1'));
  assert.equal(second.view.backends.every((x) => !x.compacted), true);
});

test('haproxy Regex routes: after Exact, before Prefix, in the model\'s order; keyed in the routing map; patterns single-quoted with (?i) from the start', () => {
  const { view } = buildHaproxyView(policyModel(), { workDir: WORK });
  assert.deepEqual(view.regexRoutes, [
    { vhost: 'v0', key: 'v0~0', pattern: '/re/(v[0-9]+)/(.*)' },
    { vhost: 'v0', key: 'v0~1', pattern: '/re/[a-z]+\\.(png|jpe?g)$' },
  ]);
  const map = routesMap(policyModel());
  assert.match(map.get('v0~0') ?? '', /^be_default\.site:80;p[0-9a-f]{12}$/);
  assert.equal(map.get('v0~1'), 'be_default.site:80');
  const text = renderHaproxy(policyModel(), { workDir: WORK }).main.content;
  const exact = text.indexOf('concat(=,txn.pp)');
  const regex = text.indexOf("{ path -m reg '(?i)^(?:/re/(v[0-9]+)/(.*))' }");
  const prefix = text.indexOf('concat(,txn.pp,/),map_beg(');
  assert.ok(exact > 0 && regex > exact && prefix > regex, 'Exact, then Regex, then Prefix');
  assert.ok(text.includes("http-request replace-path '(?i)^(?:/re/(v[0-9]+)/(.*)).*' '/\\2/%%40\\1' if pass_"));
  assert.ok(text.includes('http-request redirect prefix https://policy.test:8443 code 308 if pass_'));
  assert.ok(text.includes('http-request redirect prefix http://policy.test:8000 code 308 if pass_'));
  // Nothing outside the grammar is written: such a route is left out with a warning.
  const bad: RoutingModel = { ...policyModel(), virtualHosts: [{ host: 'h.test', kind: 'exact', sources: [], routes: [policyRoute("/a' deny #", 'Regex'), policyRoute('/ok', 'Prefix')] }] };
  const r = buildHaproxyView(bad, { workDir: WORK });
  assert.deepEqual(r.view.regexRoutes, []);
  assert.ok(r.diagnostics.some((d) => d.code === 'PASS_HAPROXY_PATH'));
});

test('haproxy regex quoting: a pattern of the grammar becomes one single-quoted word, anything else is refused', () => {
  assert.equal(hq.regexPath('/a\\.b(c|d)$'), "'(?i)^(?:/a\\.b(c|d)$)'");
  for (const bad of ["/a'b", '/a b', '/a#b', 'a', '/a{2}', '/a\\tb', '/é']) assert.throws(() => hq.regexPath(bad), /refusing/, bad);
  assert.throws(() => hq.regexLiteral("it's"), /refusing/);
  assert.equal(hq.sniExpression('str(a.test)'), 'str(a.test)');
  for (const bad of ['str(a b)', 'str(a),lower', 'req.hdr(host)']) assert.throws(() => hq.sniExpression(bad), /refusing/);
});

test('haproxy policies: internalError (a Gateway API rule without a usable backendRef) answers 500 with its reason', () => {
  const model = policyModel();
  const failing: RoutingModel = { ...model, virtualHosts: model.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => (r.path === '/denied' ? { ...r, policy: { internalError: 'no backendRef' } } : r)) })) };
  const { view } = buildHaproxyView(failing, { workDir: WORK });
  const p = view.policies.find((v) => v.denied === 'Internal Server Error: no backendRef');
  assert.equal(p?.deniedStatus, 500);
  assert.equal(view.policies.find((v) => v.denied?.startsWith('Service Unavailable') === true)?.deniedStatus, 503, 'a denied route still answers 503');
  assert.match(formatDryRun(renderHaproxy(failing, { workDir: WORK })), /http-request return status 500 content-type "text\/plain; charset=utf-8" string .*Internal Server Error: no backendRef.* if pass_p/);
});

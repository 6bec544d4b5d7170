/*
 * Route conditions (method, headers, query parameters), suffix hosts and header add/remove in the
 * HAProxy and nginx views: golden renderings, the order of the rules and chains, and what each
 * dialect cannot hold answering 503 in the route's place with a diagnostic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRoutes } from '../../src/model/match.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, HostKind, Route, RouteConditions, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy } from '../../src/render/haproxy/index.ts';
import { buildNginxView, renderNginx } from '../../src/render/nginx/index.ts';
import type { LocationView } from '../../src/render/nginx/view.ts';
import * as nq from '../../src/render/nginx/quote.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'matches' };

function route(p: string, pathType: Route['pathType'], backend: string, conditions?: RouteConditions, policy?: RoutePolicy): Route {
  return { path: p, pathType, backend: `default/${backend}:80`, source: SRC, field: `spec.rules[${backend}]`, ...(conditions === undefined ? {} : { conditions }), ...(policy === undefined ? {} : { policy }) };
}

function vhost(host: string, kind: HostKind, routes: Route[]): VirtualHost {
  return { host, kind, routes: routes.sort(compareRoutes), sources: [SRC] };
}

function backend(name: string, port: number): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [{ address: '10.0.0.1', port, weight: 1 }], protocol: 'http' };
}

const NAMES = ['main', 'hdr', 'rx', 'q', 'meth', 'exact', 'wild', 'suffix', 'deep', 'plain', 'rec'];

function modelOf(vhosts: VirtualHost[], extra: Backend[] = []): RoutingModel {
  const backends: Record<string, Backend> = {};
  for (const b of [...NAMES.map((n, i) => backend(n, 8000 + i)), ...extra]) backends[b.id] = b;
  return { entryPoints: [{ name: 'web', address: { port: 80 }, tls: false, middlewares: [] }], virtualHosts: vhosts, backends, certificates: [], diagnostics: [] };
}

/** The model of the golden files. */
function conditionsModel(): RoutingModel {
  return modelOf([
    vhost('c.test', 'exact', [
      route('/', 'Prefix', 'hdr', { headers: [{ name: 'x-env', type: 'Exact', value: `canary "1" $x 'a' \\ %[src]` }] }),
      route('/', 'Prefix', 'rx', { method: 'POST', headers: [{ name: 'x-ver', type: 'RegularExpression', value: 'v[0-9]+$' }] }),
      route('/api', 'Prefix', 'q', { query: [{ name: 'Tier', type: 'Exact', value: 'gold' }, { name: 'a.b-c', type: 'RegularExpression', value: '(x|y)\\d*' }] }),
      route('/only', 'Exact', 'meth', { method: 'PUT' }),
      route('/api/x', 'Exact', 'exact'),
      route('/', 'Prefix', 'main'),
    ]),
    vhost('plain.test', 'exact', [route('/', 'Prefix', 'plain'), route('/p', 'Exact', 'exact')]),
    vhost(
      'h.test',
      'exact',
      [route('/', 'Prefix', 'rec', undefined, { headers: { requestRemove: ['x-drop'], request: { 'X-Set': 'one' }, requestAdd: { 'X-Add': 'two $x', 'X-Set': 'three' }, responseRemove: ['x-powered-by'], response: { 'X-Resp': 'r' }, responseAdd: { 'X-More': 'm' } } })],
    ),
    vhost('*.s.test', 'wildcard', [route('/', 'Prefix', 'wild')]),
    vhost('*.deep.s.test', 'suffix', [route('/', 'Prefix', 'deep')]),
    vhost('*.s.test', 'suffix', [route('/', 'Prefix', 'suffix')]),
  ]);
}

test('golden: haproxy and nginx renderings of conditional routes, suffix hosts and header add/remove', () => {
  const m = conditionsModel();
  golden('haproxy-conditions.txt', formatDryRun(renderHaproxy(m, { workDir: WORK })));
  golden('nginx-conditions.txt', formatDryRun(renderNginx(m, { workDir: WORK })));
});

test('haproxy: a host with conditional routes is routed by one rule per route in the model order; other hosts keep the map lookups', () => {
  const { view, maps, diagnostics } = buildHaproxyView(conditionsModel(), { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  const routes = new Map(maps.find((f) => f.path === 'maps/routes.map')?.entries ?? []);
  // c.test is v0: its routes are keyed by rank only; plain.test (v1) keeps its Exact and Prefix keys.
  assert.deepEqual(
    view.conditionRoutes.map((r) => [r.key, routes.get(r.key), r.exact, r.prefix, r.method]),
    [
      ['v0^0', 'be_default.exact:80', '/api/x', null, null],
      ['v0^1', 'be_default.meth:80', '/only', null, 'PUT'],
      ['v0^2', 'be_default.q:80', null, '/api/', null],
      ['v0^3', 'be_default.rx:80', null, null, 'POST'],
      ['v0^4', 'be_default.hdr:80', null, null, null],
      ['v0^5', 'be_default.main:80', null, null, null],
    ],
  );
  assert.ok(![...routes.keys()].some((k) => k.startsWith('v0=') || k.startsWith('v0/')));
  assert.equal(routes.get('v1/'), 'be_default.plain:80');
  assert.equal(routes.get('v1=/p'), 'be_default.exact:80');
  assert.deepEqual(view.conditionRoutes[2]?.query, [
    { name: 'pass_q0', exact: 'gold', regex: null },
    { name: 'pass_q1', exact: null, regex: '^(?:(x|y)\\d*)$' },
  ]);
  assert.deepEqual(view.queryParams.map((q) => [q.name, q.variable]), [['Tier', 'pass_q0'], ['a.b-c', 'pass_q1']]);
  // Suffix hosts: the longest domain first, each naming its `s:` key, which the routing map resolves.
  assert.deepEqual(maps.find((f) => f.path === 'maps/suffix.map')?.entries, [['.deep.s.test', 's:deep.s.test'], ['.s.test', 's:s.test']]);
  assert.equal(routes.get('w:s.test'), 'v3');
  assert.equal(routes.get('s:s.test'), 'v5');
  assert.equal(view.suffixMap, `${WORK}/maps/suffix.map`);
  assert.equal(buildHaproxyView(modelOf([vhost('a.test', 'exact', [route('/', 'Prefix', 'main')])]), { workDir: WORK }).view.suffixMap, null);
  // Header changes on each side, in the model's order (remove, set, add).
  const policy = view.policies.find((p) => p.requestAdd.length > 0);
  assert.deepEqual(policy && [policy.requestRemove, policy.requestHeaders, policy.requestAdd, policy.responseRemove, policy.responseHeaders, policy.responseAdd], [
    ['x-drop'],
    [{ name: 'X-Set', value: 'one' }],
    [{ name: 'X-Add', value: 'two $x' }, { name: 'X-Set', value: 'three' }],
    ['x-powered-by'],
    [{ name: 'X-Resp', value: 'r' }],
    [{ name: 'X-More', value: 'm' }],
  ]);
});

test('haproxy: a conditional route moving to another backend is a routing map change (runtime API), a new condition a structure change (reload)', () => {
  const withRoutes = (routes: Route[]): RoutingModel => modelOf([vhost('c.test', 'exact', routes)]);
  const base = renderHaproxy(withRoutes([route('/', 'Prefix', 'hdr', { method: 'GET' }), route('/', 'Prefix', 'main')]), { workDir: WORK });
  const moved = renderHaproxy(withRoutes([route('/', 'Prefix', 'rx', { method: 'GET' }), route('/', 'Prefix', 'main')]), { workDir: WORK });
  const other = renderHaproxy(withRoutes([route('/', 'Prefix', 'hdr', { method: 'PUT' }), route('/', 'Prefix', 'main')]), { workDir: WORK });
  assert.notEqual(base.checksum, moved.checksum);
  assert.equal(base.structure, moved.structure);
  assert.notEqual(base.structure, other.structure);
});

test('haproxy: a route whose conditions HAProxy cannot write answers 503 in its place, with a diagnostic', () => {
  const m = modelOf([
    vhost('c.test', 'exact', [
      route('/', 'Prefix', 'hdr', { headers: [{ name: 'x(evil)', type: 'Exact', value: 'a' }] }),
      route('/', 'Prefix', 'q', { query: [{ name: 'q', type: 'RegularExpression', value: "it's" }] }),
      route('/', 'Prefix', 'rx', { headers: [{ name: 'x', type: 'Exact', value: 'caf\u00e9' }] }),
      route('/', 'Prefix', 'main'),
    ]),
  ]);
  const { view, diagnostics } = buildHaproxyView(m, { workDir: WORK });
  const problems = ['HAProxy cannot read the header "x(evil)"', 'HAProxy cannot compare the header x with "caf\u00e9"', 'HAProxy cannot compare the query parameter q with "it\'s"'];
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.field, d.message]),
    [
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[hdr]', `${problems[0] ?? ''}; the route answers 503`],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[rx]', `${problems[1] ?? ''}; the route answers 503`],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[q]', `${problems[2] ?? ''}; the route answers 503`],
    ],
  );
  // Without its conditions, behind a denying policy: the first one takes every request of the path.
  assert.deepEqual(view.conditionRoutes.map((r) => r.headers.length + r.query.length), [0, 0, 0, 0]);
  // A reason HAProxy cannot write (not ASCII) is answered in general words.
  assert.deepEqual(view.policies.map((p) => p.denied).sort(), [problems[2], problems[0], 'the policy of this route cannot be honoured'].map((p) => `Service Unavailable: ${p ?? ''}`));
});

/** The locations of a host's server block. */
function locations(m: RoutingModel, host: string): readonly LocationView[] {
  const build = buildNginxView(m, { workDir: WORK });
  const server = build.view.servers.find((s) => s.names.includes(host));
  assert.ok(server, host);
  return server.locations;
}

test('nginx: a location of a host with conditional routes chooses among the routes it may serve with a chain of maps', () => {
  const m = conditionsModel();
  const build = buildNginxView(m, { workDir: WORK });
  assert.deepEqual(build.diagnostics, []);
  const locs = locations(m, 'c.test');
  const byKey = new Map(locs.map((l) => [`${l.modifier} ${l.path}`, l]));
  // `= /api/x` has one route without conditions: a plain location.
  assert.equal(byKey.get('= /api/x')?.choice, null);
  assert.equal(byKey.get('= /api/x')?.action.proxy, 'be_default.exact_80');
  // `^~ /api/`: q, then the `/` routes (rx, hdr, main) in the model order.
  const api = byKey.get('^~ /api/');
  assert.equal(api?.canary?.variable, api?.choice?.variable);
  // The chain's maps, in order: each condition's `then` goes on to the next, `otherwise` to the next route.
  const prefix = (api?.choice?.variable ?? '').replace(/_0_0$/, '_');
  const chain = build.view.conditionMaps
    .filter((c) => c.variable.startsWith(prefix))
    .map((c) => `${c.variable} ${c.source} ${c.pattern} -> ${c.then.variable ?? c.then.literal ?? ''} | ${c.otherwise.variable ?? c.otherwise.literal ?? ''}`);
  assert.equal(prefix, 'pass_c1_');
  assert.deepEqual(chain, [
    'pass_c1_0_0 pass_qv_0 ~^1gold\\z -> pass_c1_0_1 | pass_c1_1_0',
    'pass_c1_0_1 pass_qv_1 ~^1(?:(x|y)\\d*)\\z -> be_default.q_80 | pass_c1_1_0',
    'pass_c1_1_0 request_method ~^POST\\z -> pass_c1_1_1 | pass_c1_2_0',
    'pass_c1_1_1 http_x_ver ~^(?:v[0-9]+$)\\z -> be_default.rx_80 | pass_c1_2_0',
    'pass_c1_2_0 http_x_env ~^canary\\x20\\x221\\x22\\x20\\x24x\\x20\\x27a\\x27\\x20\\x5c\\x20\\x25\\x5bsrc\\x5d\\z -> be_default.hdr_80 | be_default.main_80',
  ]);
  // `= /api` serves the same routes: the same chain, written once.
  assert.equal(byKey.get('= /api')?.choice?.variable, 'pass_c1_0_0');
  // The first value of a parameter, "1" before it so that an empty value differs from none.
  assert.deepEqual(build.view.queryValues.map((q) => [q.name, q.pattern]), [
    ['Tier', '~(?:^|&)Tier(?:=(?<pass_qc_0>[^&]*))?(?=&|\\z)'],
    ['a.b-c', '~(?:^|&)a\\x2eb\\x2dc(?:=(?<pass_qc_1>[^&]*))?(?=&|\\z)'],
  ]);
  // Suffix hosts: regex server names, the longest domain first, a one-label wildcard before a suffix of the same domain.
  const names = build.view.servers.filter((s) => !s.defaultServer).flatMap((s) => s.names);
  assert.deepEqual(names.slice(0, 3), ['**.deep.s.test', '*.s.test', '**.s.test']);
  assert.equal(nq.serverName('**.s.test'), '"~^.+\\.s\\.test$"');
  // Header changes: remove as an empty value; an added line after the set one, or after the client's first line.
  const h = locations(m, 'h.test').find((l) => l.path === '/' && l.modifier === '');
  assert.deepEqual(h?.policy?.requestHeaders, [
    { name: 'x-drop', value: '', variable: false },
    { name: 'X-Set', value: 'one', variable: false },
    { name: 'X-Add', value: 'http_x_add', variable: true },
    { name: 'X-Add', value: 'two $x', variable: false },
    { name: 'X-Set', value: 'three', variable: false },
  ]);
  assert.deepEqual(h?.policy?.responseRemove, ['x-powered-by']);
  assert.equal(h?.policy?.responseAdd.length, 1);
});

test('nginx: what a chain cannot hold answers 503 in the route place, with a diagnostic naming the route', () => {
  const m = modelOf([
    vhost('u.test', 'exact', [
      route('/', 'Prefix', 'q', { headers: [{ name: 'x-a', type: 'Exact', value: 'a' }] }),
      route('/', 'Prefix', 'hdr', { headers: [{ name: 'x_tenant', type: 'Exact', value: 'a' }] }),
      route('/', 'Prefix', 'main'),
    ]),
    vhost('p.test', 'exact', [route('/', 'Prefix', 'q', { method: 'GET' }, { headers: { request: { 'X-A': 'b' } } }), route('/', 'Prefix', 'main')]),
    vhost('r.test', 'exact', [route('/r', 'Regex', 'q', { method: 'GET' }), route('/', 'Prefix', 'main')]),
  ]);
  const build = buildNginxView(m, { workDir: WORK });
  assert.deepEqual(
    build.diagnostics.map((d) => [d.code, d.field, d.message]),
    [
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[hdr]', 'nginx cannot read the header "x_tenant" (only letters, digits and "-"); the route answers 503'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[q]', 'nginx cannot render routes with conditions and different policies or filters (header changes, rewrites, ...) on one path; the route answers 503'],
      ['PASS_POLICY_NOT_IN_MODE', 'spec.rules[q]', 'nginx cannot fall through from a regex path route with conditions to the routes after it; the route answers 503'],
    ],
  );
  // u.test: x-a → q, else the unreadable route answers 503 (main is never reached).
  const u = locations(m, 'u.test').find((l) => l.path === '/');
  const first = build.view.conditionMaps.find((c) => c.variable === u?.choice?.variable);
  assert.deepEqual([first?.source, first?.then.literal, first?.otherwise.literal], ['http_x_a', 'be_default.q_80', 'pass_answer_0']);
  assert.deepEqual(u?.choice?.answers, [{ value: 'pass_answer_0', status: 503, body: 'Service Unavailable: nginx cannot read the header "x_tenant" (only letters, digits and "-")' }]);
  assert.equal(locations(m, 'p.test').find((l) => l.path === '/')?.action.status, 503);
  // A reason with characters nginx cannot write is answered in general words (the diagnostic says it all).
  const cafe = modelOf([vhost('v.test', 'exact', [route('/', 'Prefix', 'q', { method: 'GET' }), route('/', 'Prefix', 'hdr', { headers: [{ name: 'x-a', type: 'Exact', value: 'caf\u00e9' }] }), route('/', 'Prefix', 'main')])]);
  assert.deepEqual(locations(cafe, 'v.test').find((l) => l.path === '/')?.choice?.answers, [{ value: 'pass_answer_0', status: 503, body: 'Service Unavailable' }]);
  assert.match(renderNginx(cafe, { workDir: WORK }).main.content, /return 503 "Service Unavailable";/);
  const r = locations(m, 'r.test');
  assert.equal(r.find((l) => l.regex)?.action.status, 503);
  // The prefix location of r.test serves main alone: nginx tried the regex first.
  assert.equal(r.find((l) => l.path === '/')?.action.proxy, 'be_default.main_80');
});

test('nginx with the Lua module: a location joins the lines of each header its chain reads before the maps read it', () => {
  const m = conditionsModel();
  const build = buildNginxView(m, { workDir: WORK, luaModules: { ndk: '/m/ndk.so', lua: '/m/lua.so' } });
  const api = build.view.servers.find((s) => s.names.includes('c.test'))?.locations.find((l) => l.path === '/api/');
  assert.deepEqual(api?.choice?.joins, [
    { variable: 'pass_h_0', header: 'x-ver' },
    { variable: 'pass_h_1', header: 'x-env' },
  ]);
  assert.deepEqual(
    build.view.conditionMaps.filter((c) => c.source.startsWith('pass_h_') || c.source.startsWith('http_')).map((c) => c.source),
    ['pass_h_0', 'pass_h_1', 'pass_h_0', 'pass_h_1', 'pass_h_0', 'pass_h_1'],
  );
  const conf = renderNginx(m, { workDir: WORK, luaModules: { ndk: '/m/ndk.so', lua: '/m/lua.so' } }).main.content;
  assert.match(conf, /set_by_lua_block \$pass_h_1 \{\n {8}local v = ngx\.req\.get_headers\(0\)\["x-env"\]\n/);
  // Without Lua, the header variables themselves.
  assert.ok(buildNginxView(m, { workDir: WORK }).view.conditionMaps.some((c) => c.source === 'http_x_env'));
});

test('nginx: routes of one chain with the same policy share the location of that policy, the upstream chosen by the chain', () => {
  const policy: RoutePolicy = { headers: { request: { 'X-A': 'b' }, responseAdd: { 'X-R': 'r' } }, rewrite: { kind: 'strip-prefix' } };
  const m = modelOf([vhost('p.test', 'exact', [route('/api', 'Prefix', 'q', { method: 'GET' }, policy), route('/api', 'Prefix', 'main', undefined, policy), route('/', 'Prefix', 'plain')])]);
  const build = buildNginxView(m, { workDir: WORK });
  assert.deepEqual(build.diagnostics, []);
  const api = locations(m, 'p.test').find((l) => l.path === '/api/');
  assert.ok(api?.choice !== null && api?.choice !== undefined);
  assert.deepEqual(api.policy?.requestHeaders.map((h) => h.name), ['X-A']);
  // Strip-prefix: the canary-like rewrite of the path the location matched, to the policy's path.
  assert.deepEqual(api.canary, { variable: api.choice.variable, unavailable: null, strip: { length: 5, target: '/$1' } });
  // A different policy on one path: refused, named.
  const other = modelOf([vhost('p.test', 'exact', [route('/api', 'Prefix', 'q', { method: 'GET' }, policy), route('/api', 'Prefix', 'main')])]);
  assert.equal(locations(other, 'p.test').find((l) => l.path === '/api/')?.action.status, 503);
});

test('nginx mapRegex: a map key regex double-quoted with quotes and backslashes escaped; anything else refused', () => {
  assert.equal(nq.mapRegex('~^a"b\\z'), '"~^a\\"b\\\\z"');
  assert.equal(nq.mapRegex('~^$x'), '"~^$x"');
  for (const bad of ['^a', '~a\nb', 'x', '~caf\u00e9', 42]) assert.throws(() => nq.mapRegex(bad), /PASS_RENDER_UNSAFE_VALUE|refusing/);
});

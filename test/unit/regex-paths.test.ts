/*
 * ingress-nginx regex paths (use-regex, rewrite-target with $1..$9): the grammar, matching and
 * ordering (src/model/match.ts), translate (scoped to the Ingress that asks), the native rewrite and
 * the nginx locations. Table-driven.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRoutes, pathMatches, resolveRequest, selectRoute } from '../../src/model/match.ts';
import { regexPathProblem } from '../../src/model/translate/validate.ts';
import { REGEX_ROUTE_MODES } from '../../src/model/translate/index.ts';
import type { KubeObject } from '../../src/model/k8s.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { PathType, Route, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { rewriteTarget } from '../../src/drivers/native/policy.ts';
import { buildNginxView } from '../../src/render/nginx/view.ts';
import type { LocationView } from '../../src/render/nginx/view.ts';
import { locationRegex, rewriteRegex, rewriteTarget as nginxRewriteTarget } from '../../src/render/nginx/quote.ts';
import { brief, options, run, snapshotOf, v1Ingress, webService } from './translate-helpers.ts';

// ---------------------------------------------------------------- grammar

const GOOD: readonly string[] = [
  '/something(/|$)(.*)',
  '/foo/.*',
  '/reports/.+',
  '/api/v[0-9]+/users',
  '/users/[^/]+/profile',
  '/(api|v1)/(.*)',
  '/a(?:b|c)?d',
  '/files/\\d+\\.txt',
  '/x[a-zA-Z_\\-]*',
  '/lazy/.*?end',
  '/',
  '/plain-path_~!&,=:@',
  '/class[-a]',
  '/class[a-]',
  '/dot[.()|?*+$]',
  '/^anchored$',
];

const BAD: readonly (readonly [string, RegExp])[] = [
  ['something', /start with "\/"/],
  [`/${'a'.repeat(600)}`, /longer than 512/],
  ['/a{2,3}', /"\{" is not allowed/],
  ['/(a', /not closed/],
  ['/a)', /closes no "\("/],
  ['/(?=a)', /lookaround/],
  ['/(?<name>a)', /lookaround/],
  ['/(?i)a', /lookaround/],
  ['/(a)\\1', /"\\1" is not an escape/],
  ['/a\\\\b', /"\\\\" is not an escape/],
  ['/a\\tb', /"\\t" is not an escape/],
  ['/a*+', /repeats a repetition/],
  ['/a**', /repeats a repetition/],
  ['/(*a)', /follows nothing/],
  ['/^*', /follows nothing/],
  ['/(a+)+', /not a group/],
  ['/(a|a)*', /not a group/],
  ['/a"b', /is not allowed/],
  ['/a;b', /is not allowed/],
  ['/a b', /is not allowed/],
  ['/a%20b', /is not allowed/],
  ['/café', /is not allowed/],
  ['/[]', /empty/],
  ['/[abc', /not closed/],
  ['/a]', /closes no "\["/],
  ['/[[:alpha:]]', /POSIX class/],
  ['/[z-a]', /not a range/],
  ['/[A-z]', /not a range/],
  ['/[a-c-e]', /must be first, last/],
  ['/[\\d-z]', /cannot start at an escape/],
  ['/[\\s]', /not a class escape/],
  ['/((((((((((((((((((a))))))))))))))))))', /nest more than 16/],
  ['/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)', /more than 9 capture groups/],
];

test('regex grammar: accepted patterns compile the same as JavaScript RegExp reads them', () => {
  for (const p of GOOD) {
    assert.equal(regexPathProblem(p), undefined, p);
    assert.doesNotThrow(() => new RegExp(`^(?:${p})`, 'i'), p);
  }
});

test('regex grammar: refused patterns say why', () => {
  for (const [p, why] of BAD) assert.match(regexPathProblem(p) ?? 'accepted', why, p);
});

// ---------------------------------------------------------------- matching and order

const r = (path: string, pathType: PathType, backend = path): Route => ({ path, pathType, backend, source: { kind: 'Ingress', namespace: 'default', name: 'x' }, field: 'f' });

test('regex matching: case-insensitive, anchored at the start of the path, the whole pattern anchored', () => {
  const rows: readonly (readonly [string, string, boolean])[] = [
    ['/something(/|$)(.*)', '/something', true],
    ['/something(/|$)(.*)', '/something/new', true],
    ['/something(/|$)(.*)', '/SomeThing/new', true],
    ['/something(/|$)(.*)', '/somethingelse', false],
    ['/something(/|$)(.*)', '/x/something/new', false],
    ['/foo', '/foobar', true],
    ['/reports/.+', '/reports/2024', true],
    ['/reports/.+', '/reports/', false],
    ['/a|/b', '/x/b', false],
    ['/a|/b', '/b/c', true],
    ['/v[0-9]+$', '/v12', true],
    ['/v[0-9]+$', '/v12/x', false],
  ];
  for (const [pattern, path, want] of rows) assert.equal(pathMatches(r(pattern, 'Regex'), path), want, `${pattern} ${path}`);
});

test('route order: Exact, then Regex (longest pattern first), then Prefix (longest first)', () => {
  const routes = [r('/', 'Prefix'), r('/api/v1', 'Prefix'), r('/a.*', 'Regex'), r('/api/(.*)', 'Regex'), r('/x', 'Exact'), r('/api', 'Exact')];
  assert.deepEqual(
    [...routes].sort(compareRoutes).map((x) => `${x.pathType} ${x.path}`),
    ['Exact /api', 'Exact /x', 'Regex /api/(.*)', 'Regex /a.*', 'Prefix /api/v1', 'Prefix /'],
  );
  const vhost: VirtualHost = { host: 'h', kind: 'exact', routes: [...routes].sort(compareRoutes), sources: [] };
  const rows: readonly (readonly [string, string])[] = [
    ['/api', 'Exact /api'],
    ['/api/v1/users', 'Regex /api/(.*)'],
    ['/apple', 'Regex /a.*'],
    ['/b', 'Prefix /'],
    ['/x', 'Exact /x'],
  ];
  for (const [path, want] of rows) {
    const got = selectRoute(vhost, path);
    assert.equal(got === undefined ? 'none' : `${got.pathType} ${got.path}`, want, path);
  }
});

// ---------------------------------------------------------------- translate

const regexIngress = (name: string, annotations: Record<string, string>, paths: readonly { path: string; pathType: string }[], host = 'rewrite.example.com', created = '2024-01-01T00:00:00Z'): KubeObject =>
  v1Ingress(
    name,
    { rules: [{ host, http: { paths: paths.map((p) => ({ ...p, backend: { service: { name: 'web', port: { number: 80 } } } })) } }] },
    { annotations, creationTimestamp: created },
  );

const DOCS_EXAMPLE = regexIngress('rewrite', { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }, [{ path: '/something(/|$)(.*)', pathType: 'ImplementationSpecific' }]);

test('translate: the ingress-nginx rewrite example becomes a Regex route with a regex rewrite; /something/new reaches the backend as /new', () => {
  const model = run(snapshotOf({ ingresses: [DOCS_EXAMPLE], services: [webService] }));
  assert.deepEqual(brief(model.diagnostics).filter((d) => !d.includes('PASS_SERVICE')), []);
  const route = model.virtualHosts[0]?.routes[0];
  assert.ok(route);
  assert.equal(route.pathType, 'Regex');
  assert.equal(route.path, '/something(/|$)(.*)');
  assert.deepEqual(route.policy?.rewrite, { kind: 'regex', pattern: '/something(/|$)(.*)', target: '/$2' });
  const res = resolveRequest(model, 'rewrite.example.com', '/something/new');
  assert.equal(res.outcome, 'route');
  const rows: readonly (readonly [string, string, string])[] = [
    ['/something/new', '/something/new?x=1', '/new?x=1'],
    ['/something', '/something', '/'],
    ['/something/', '/something/', '/'],
    ['/SOMETHING/a/b', '/SOMETHING/a/b', '/a/b'],
  ];
  for (const [path, target, want] of rows) assert.equal(rewriteTarget(route.policy ?? {}, route, path, target), want, path);
});

test('translate: regex paths are scoped to their Ingress; another Ingress on the same host keeps its Prefix paths', () => {
  const other = regexIngress('plain', {}, [{ path: '/something', pathType: 'Prefix' }, { path: '/other', pathType: 'Prefix' }], 'rewrite.example.com', '2023-01-01T00:00:00Z');
  const model = run(snapshotOf({ ingresses: [DOCS_EXAMPLE, other], services: [webService] }));
  const routes = model.virtualHosts[0]?.routes.map((x) => `${x.pathType} ${x.path} ${x.source.name}`);
  assert.deepEqual(routes, ['Regex /something(/|$)(.*) rewrite', 'Prefix /something plain', 'Prefix /other plain']);
  // Regex before Prefix: /something/x takes the regex route, as ingress-nginx's regex locations do.
  const res = resolveRequest(model, 'rewrite.example.com', '/something/x');
  assert.equal(res.outcome === 'route' ? res.route.source.name : 'none', 'rewrite');
  const plain = model.virtualHosts[0]?.routes.find((x) => x.source.name === 'plain');
  assert.equal(plain?.policy, undefined);
});

test('translate: a regex path outside the grammar is PASS_INGRESS_BAD_PATH and skipped; Exact paths stay Exact with the target as a replace-path', () => {
  const ing = regexIngress('mixed', { 'nginx.ingress.kubernetes.io/rewrite-target': '/x/$1' }, [
    { path: '/a{2}', pathType: 'ImplementationSpecific' },
    { path: '/exact', pathType: 'Exact' },
    { path: '/p/(.*)', pathType: 'Prefix' },
  ]);
  const model = run(snapshotOf({ ingresses: [ing], services: [webService] }));
  const bad = model.diagnostics.find((d) => d.code === 'PASS_INGRESS_BAD_PATH');
  assert.equal(bad?.field, 'spec.rules[0].http.paths[0].path');
  assert.match(bad?.message ?? '', /not a regex path of the grammar: "\{" is not allowed/);
  const routes = model.virtualHosts[0]?.routes ?? [];
  assert.deepEqual(routes.map((x) => [x.pathType, x.path, x.policy?.rewrite]), [
    ['Exact', '/exact', { kind: 'replace-path', path: '/x/' }],
    ['Regex', '/p/(.*)', { kind: 'regex', pattern: '/p/(.*)', target: '/x/$1' }],
  ]);
});

test('translate: the same regex on the same host twice: the oldest Ingress wins, the other gets a conflict', () => {
  const older = regexIngress('older', { 'nginx.ingress.kubernetes.io/use-regex': 'true' }, [{ path: '/r/.*', pathType: 'Prefix' }], 'h.test', '2020-01-01T00:00:00Z');
  const newer = regexIngress('newer', { 'nginx.ingress.kubernetes.io/use-regex': 'true' }, [{ path: '/r/.*', pathType: 'ImplementationSpecific' }], 'h.test', '2021-01-01T00:00:00Z');
  const model = run(snapshotOf({ ingresses: [newer, older], services: [webService] }));
  assert.deepEqual(model.virtualHosts[0]?.routes.map((x) => x.source.name), ['older']);
  assert.ok(brief(model.diagnostics).includes('warning PASS_INGRESS_CONFLICT Ingress default/newer spec.rules[0].http.paths[0].path'));
});

test('translate: a mode that cannot route Regex routes skips them with an error; the rewrite is dropped with a warning', () => {
  const modes = ['native', 'haproxy', 'nginx'] as const;
  for (const mode of modes) {
    const model = run(snapshotOf({ ingresses: [DOCS_EXAMPLE], services: [webService] }), { ...options, mode });
    const routes = model.virtualHosts.flatMap((v) => v.routes);
    if (REGEX_ROUTE_MODES.includes(mode)) {
      assert.equal(routes.length, 1, mode);
      continue;
    }
    assert.equal(routes.length, 0, mode);
    assert.ok(brief(model.diagnostics).includes('error PASS_POLICY_NOT_IN_MODE Ingress default/rewrite spec.rules[0].http.paths[0].path'), mode);
  }
});

// ---------------------------------------------------------------- native rewrite

test('native rewriteTarget: $1..$9 as nginx substitutes them; a group that did not take part, or does not exist, is empty', () => {
  const route = r('/x', 'Regex');
  const rows: readonly (readonly [string, string, string, string])[] = [
    ['/a/(b)?(c)', '/[$1][$2][$3]', '/a/c', '/[][c][]'],
    ['/a/(.*)', '/$1$1/$9', '/a/zz', '/zzzz/'],
    ['/a/(.*)', '/n/$10', '/a/z', '/n/z0'],
    ['/A/(X)', '/$1', '/a/x', '/x'],
  ];
  for (const [pattern, target, path, want] of rows) {
    const policy: RoutePolicy = { rewrite: { kind: 'regex', pattern, target } };
    assert.equal(rewriteTarget(policy, route, path, `${path}?q=1`), `${want}?q=1`, `${pattern} ${target}`);
  }
});

// ---------------------------------------------------------------- nginx

function nginxLocations(routes: readonly Route[]): LocationView[] {
  const model: RoutingModel = {
    entryPoints: [{ name: 'http', address: { port: 8080 }, tls: false, middlewares: [] }],
    virtualHosts: [{ host: 'h.test', kind: 'exact', routes: [...routes].sort(compareRoutes), sources: [] }],
    backends: { 'default/web:80': { id: 'default/web:80', namespace: 'default', service: 'web', servicePort: 80, endpoints: [{ address: '127.0.0.1', port: 9000, weight: 1 }], protocol: 'http' } },
    certificates: [],
    diagnostics: [],
  };
  const build = buildNginxView(model, { workDir: '/w' });
  const server = build.view.servers.find((s) => s.names.includes('h.test'));
  assert.ok(server);
  return [...server.locations];
}

const be = 'default/web:80';

test('nginx: regex locations in model order; on such a host Prefix locations drop ^~ and `= /p` serves the model choice', () => {
  const rewrite: RoutePolicy = { rewrite: { kind: 'regex', pattern: '/something(/|$)(.*)', target: '/$2' } };
  const locations = nginxLocations([r('/something', 'Prefix', be), { ...r('/something(/|$)(.*)', 'Regex', be), policy: rewrite }, r('/s.*', 'Regex', be), r('/x', 'Exact', be)]);
  const shown = locations.map((l) => `${l.modifier} ${l.path}${l.rewrite === null ? '' : ` -> ${l.rewrite.target}`}${l.keepUri ? ' (uri)' : ''}`);
  assert.deepEqual(shown, ['= /x', '~* /something(/|$)(.*) -> /$2', '~* /s.* (uri)', '= /something -> /$2', ' /something/', ' /']);
  // Without a Regex route the host keeps its ^~ prefixes.
  assert.deepEqual(nginxLocations([r('/p', 'Prefix', be)]).map((l) => `${l.modifier} ${l.path}`), ['= /p', '^~ /p/', ' /']);
});

test('nginx quoting: a regex location and rewrite are anchored, case-insensitive and refuse anything outside the grammar', () => {
  assert.equal(locationRegex('/something(/|$)(.*)'), '"^(?:/something(/|$)(.*))"');
  assert.equal(rewriteRegex('/a\\.b'), '"(?i)^(?:/a\\.b)"');
  assert.equal(nginxRewriteTarget('/$2'), '"/$2"');
  for (const bad of ['/a"b', '/a{1}', '/a;b', 'x', '/a\\\\']) {
    assert.throws(() => locationRegex(bad), bad);
    assert.throws(() => rewriteRegex(bad), bad);
  }
  for (const bad of ['/$name', '/$0', '/a%20', '/a"', 'x/$1']) assert.throws(() => nginxRewriteTarget(bad), bad);
});

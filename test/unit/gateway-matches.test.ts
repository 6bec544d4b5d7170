/*
 * HTTPRoute matches (method, headers, query parameters) and Gateway API hostnames in the model:
 * their translation (fixtures of test/fixtures/gateway/ named for their case), their precedence
 * (compareRoutes), the conditions a request must meet with fallthrough (routeConditionsHold,
 * resolveRequest), suffix hosts (selectVirtualHost), and the native router agreeing with all of it.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/model/k8s.ts';
import type { ConditionRequest } from '../../src/model/match.ts';
import { compareRoutes, hostMatches, queryParam, resolveRequest, routeConditionsHold, sameMatch, selectVirtualHost } from '../../src/model/match.ts';
import type { Backend, EntryPoint, HostKind, Route, RouteConditions, RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { translateGateway } from '../../src/model/translate/gateway/index.ts';
import type { GatewayInput, GatewayTranslation } from '../../src/model/translate/gateway/index.ts';
import { valueRegexProblem } from '../../src/model/translate/validate.ts';
import { explainRequest } from '../../src/model/explain.ts';
import { editHeaders, pickSplit } from '../../src/drivers/native/policy.ts';
import type { HeaderEdit } from '../../src/drivers/native/policy.ts';
import { Router } from '../../src/drivers/native/router.ts';
import { UpstreamRegistry } from '../../src/drivers/native/upstream.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { brief, deepFreeze } from './translate-helpers.ts';

const fixtures = new URL('../fixtures/gateway/', import.meta.url);
const LIST_OF_KIND: Readonly<Record<string, keyof GatewayInput>> = {
  GatewayClass: 'gatewayClasses',
  Gateway: 'gateways',
  HTTPRoute: 'httpRoutes',
  ReferenceGrant: 'referenceGrants',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  Secret: 'secrets',
  Namespace: 'namespaces',
};

function load(file: string): GatewayInput {
  const lists: Record<keyof GatewayInput, KubeObject[]> = { gatewayClasses: [], gateways: [], httpRoutes: [], referenceGrants: [], services: [], endpointSlices: [], secrets: [], namespaces: [] };
  for (const f of ['base.yaml', file]) {
    const lineCounter = new LineCounter();
    for (const doc of parseAllDocuments(readFileSync(new URL(f, fixtures), 'utf8'), { lineCounter })) {
      assert.deepEqual(doc.errors, [], `${f}: YAML errors`);
      const obj = doc.toJS() as KubeObject;
      const list = LIST_OF_KIND[obj.kind ?? ''];
      assert.ok(list, `${f}: unexpected kind ${String(obj.kind)}`);
      lists[list].push({ ...obj, source: { file: f, line: lineCounter.linePos(doc.contents?.range[0] ?? 0).line } });
    }
  }
  return lists;
}

const entryPoints: readonly EntryPoint[] = [{ name: 'web', address: { port: 8000 }, publicPort: 80, tls: false, middlewares: [] }];

function translateFixture(file: string): GatewayTranslation {
  return translateGateway(deepFreeze(load(file)), { controllerName: 'passerelle.dev/gateway-controller', entryPoints });
}

function modelOf(t: GatewayTranslation): RoutingModel {
  return { entryPoints, virtualHosts: t.virtualHosts, backends: t.backends, certificates: [], diagnostics: [] };
}

/** `host: pathType path [if conditions] → backend [policy]` per route, in match order. */
function routes(t: GatewayTranslation): string[] {
  const show = (r: Route): string => `${r.pathType} ${r.path}${r.conditions === undefined ? '' : ` if ${JSON.stringify(r.conditions)}`} → ${r.backend}${r.policy === undefined ? '' : ` ${JSON.stringify(r.policy)}`}`;
  return t.virtualHosts.flatMap((vh) => vh.routes.map((r) => `${vh.host}: ${show(r)}`));
}

/** A request as the tables write it: `METHOD host target`, headers by name (any case). */
interface Req {
  readonly method?: string;
  readonly host: string;
  readonly target: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function conditionRequest(r: Req): { path: string; request: ConditionRequest } {
  const q = r.target.indexOf('?');
  const headers = new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { path: q === -1 ? r.target : r.target.slice(0, q), request: { method: r.method ?? 'GET', header: (n) => headers.get(n), query: q === -1 ? '' : r.target.slice(q + 1) } };
}

/** The backend a request reaches, or 404, by resolveRequest and by the native router (which must agree). */
function reaches(model: RoutingModel, router: Router, r: Req): string {
  const { path, request } = conditionRequest(r);
  const res = resolveRequest(model, r.host, path, request);
  const expected = res.outcome === 'route' ? res.route.backend : '404';
  const got = router.resolve(r.host, path, request);
  assert.equal(got.found ? got.backendId : '404', expected, `native router vs resolveRequest for ${JSON.stringify(r)}`);
  return expected;
}

const V1 = 'default/web:80';
const V2 = 'default/canary:80';
const V3 = 'default/third:80';

function withRouter(fn: (registry: UpstreamRegistry) => void): void {
  const registry = new UpstreamRegistry({ connectTimeoutMs: 1000, readTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connectionsPerEndpoint: undefined }, silentLogger);
  try {
    fn(registry);
  } finally {
    void registry.close(0);
  }
}

// The conformance suite's expectations (HTTPRouteHeaderMatching, HTTPRouteQueryParamMatching, HTTPRouteMethodMatching).
const conformanceTable: readonly [name: string, request: Req, backend: string][] = [
  ['header-version-one', { host: 'headers.example.com', target: '/', headers: { version: 'one' } }, V1],
  ['header-version-two', { host: 'headers.example.com', target: '/', headers: { version: 'two' } }, V2],
  ['header-two-headers-beat-one', { host: 'headers.example.com', target: '/', headers: { version: 'two', color: 'orange' } }, V1],
  ['header-names-any-case', { host: 'headers.example.com', target: '/', headers: { VERSION: 'two', Color: 'orange' } }, V1],
  ['header-values-case-sensitive', { host: 'headers.example.com', target: '/', headers: { version: 'ONE' } }, '404'],
  ['header-extra-headers-irrelevant', { host: 'headers.example.com', target: '/', headers: { version: 'two', color: 'purple' } }, V2],
  ['header-either-match-of-a-rule', { host: 'headers.example.com', target: '/', headers: { color: 'green' } }, V1],
  ['header-yellow', { host: 'headers.example.com', target: '/', headers: { color: 'yellow' } }, V2],
  ['header-none', { host: 'headers.example.com', target: '/' }, '404'],
  ['query-whale', { host: 'query.example.com', target: '/?animal=whale' }, V1],
  ['query-dolphin', { host: 'query.example.com', target: '/?animal=dolphin' }, V2],
  ['query-two-params-beat-one', { host: 'query.example.com', target: '/?animal=dolphin&color=blue' }, V3],
  ['query-names-case-sensitive', { host: 'query.example.com', target: '/?ANIMAL=Whale' }, V3],
  ['query-other-params-irrelevant', { host: 'query.example.com', target: '/?animal=whale&otherparam=irrelevant' }, V1],
  ['query-dolphin-yellow', { host: 'query.example.com', target: '/?animal=dolphin&color=yellow' }, V2],
  ['query-color-alone', { host: 'query.example.com', target: '/?color=blue' }, '404'],
  ['query-no-substring', { host: 'query.example.com', target: '/?animal=whaledolphin' }, '404'],
  ['query-first-value-counts', { host: 'query.example.com', target: '/?animal=dog&animal=whale' }, '404'],
  ['query-longer-prefix-beats-query', { host: 'query.example.com', target: '/path5?animal=hydra' }, V1],
  ['query-header-beats-query', { host: 'query.example.com', target: '/?animal=hydra', headers: { version: 'four' } }, V3],
  ['method-post', { method: 'POST', host: 'method.example.com', target: '/' }, V1],
  ['method-get', { host: 'method.example.com', target: '/' }, V2],
  ['method-head-is-not-get', { method: 'HEAD', host: 'method.example.com', target: '/' }, '404'],
  ['method-path1-get', { host: 'method.example.com', target: '/path1' }, V1],
  ['method-put-with-header', { method: 'PUT', host: 'method.example.com', target: '/', headers: { version: 'one' } }, V2],
  ['method-put-without-header', { method: 'PUT', host: 'method.example.com', target: '/' }, '404'],
  ['method-path2-all-three', { method: 'POST', host: 'method.example.com', target: '/path2', headers: { version: 'two' } }, V3],
  ['method-path2-falls-through-to-post', { method: 'POST', host: 'method.example.com', target: '/path2' }, V1],
  ['method-longer-prefix-beats-method', { method: 'PATCH', host: 'method.example.com', target: '/path5' }, V1],
  ['method-beats-header', { method: 'PATCH', host: 'method.example.com', target: '/', headers: { version: 'four' } }, V2],
  ['regex-header-whole-value', { host: 'regex.example.com', target: '/', headers: { 'x-version': 'v12' } }, V1],
  ['regex-header-anchored', { host: 'regex.example.com', target: '/', headers: { 'x-version': 'v12-beta' } }, '404'],
  ['regex-query-alternation-anchored', { host: 'regex.example.com', target: '/?id=none' }, V2],
  ['regex-query-alternation-no-partial', { host: 'regex.example.com', target: '/?id=nonesuch' }, '404'],
  ['regex-query-hex', { host: 'regex.example.com', target: '/?id=beef' }, V2],
];

test('match conditions: the conformance suite\'s header, query and method routes, through translate, resolveRequest and the native router', () => {
  const t = translateFixture('match-conditions.yaml');
  assert.deepEqual(brief(t.diagnostics), []);
  assert.deepEqual(
    routes(t).filter((r) => r.startsWith('method.')),
    [
      'method.example.com: Prefix /path1 if {"method":"GET"} → default/web:80',
      'method.example.com: Prefix /path2 if {"method":"POST","headers":[{"name":"version","type":"Exact","value":"two"}]} → default/third:80',
      'method.example.com: Prefix /path5 → default/web:80',
      'method.example.com: Prefix / if {"method":"PUT","headers":[{"name":"version","type":"Exact","value":"one"}]} → default/canary:80',
      'method.example.com: Prefix / if {"method":"POST"} → default/web:80',
      'method.example.com: Prefix / if {"method":"GET"} → default/canary:80',
      'method.example.com: Prefix / if {"method":"PATCH"} → default/canary:80',
      'method.example.com: Prefix / if {"headers":[{"name":"version","type":"Exact","value":"four"}]} → default/third:80',
    ],
  );
  withRouter((registry) => {
    const model = modelOf(t);
    const router = new Router(model, registry);
    assert.equal(router.hasConditions, true);
    for (const [name, req, want] of conformanceTable) assert.equal(reaches(model, router, req), want, name);
  });
});

test('match precedence across HTTPRoutes: Exact, longest prefix, method, headers, query; then oldest, namespace/name, rule order', () => {
  const t = translateFixture('match-precedence.yaml');
  assert.deepEqual(routes(t), [
    'p.example.com: Exact /exact → default/canary:80',
    'p.example.com: Prefix /exact if {"method":"GET"} → default/web:80',
    'p.example.com: Prefix /tie if {"headers":[{"name":"y","type":"Exact","value":"1"}]} → default/web:80',
    'p.example.com: Prefix /tie if {"headers":[{"name":"x","type":"Exact","value":"1"}]} → default/web:80',
    'p.example.com: Prefix /tie if {"headers":[{"name":"z","type":"Exact","value":"1"}]} → default/canary:80',
    'p.example.com: Prefix /tie if {"query":[{"name":"q","type":"Exact","value":"1"}]} → default/third:80',
    'p.example.com: Prefix /ex if {"method":"GET","headers":[{"name":"x","type":"Exact","value":"1"}],"query":[{"name":"q","type":"Exact","value":"1"}]} → default/web:80',
  ]);
  // The same match (path and conditions) in a newer route is a conflict; header names compare in any case.
  assert.deepEqual(brief(t.diagnostics), ['warning PASS_GATEWAY_CONFLICT HTTPRoute default/b-newer spec.rules[1].matches[0].path']);
  const table: readonly [name: string, request: Req, backend: string][] = [
    ['exact-beats-prefix-with-method', { host: 'p.example.com', target: '/exact' }, V2],
    ['prefix-with-method', { host: 'p.example.com', target: '/exact/more' }, V1],
    ['prefix-method-fails-no-fallback', { method: 'POST', host: 'p.example.com', target: '/exact/more' }, '404'],
    ['older-route-wins-a-tie', { host: 'p.example.com', target: '/tie', headers: { z: '1', y: '1' } }, V1],
    ['newer-route-when-older-fails', { host: 'p.example.com', target: '/tie', headers: { z: '1' } }, V2],
    ['header-beats-query', { host: 'p.example.com', target: '/tie?q=1', headers: { x: '1' } }, V1],
    ['query-alone', { host: 'p.example.com', target: '/tie?q=1' }, V3],
    ['all-three', { host: 'p.example.com', target: '/ex?q=1', headers: { x: '1' } }, V1],
    ['all-three-but-method', { method: 'PUT', host: 'p.example.com', target: '/ex?q=1', headers: { x: '1' } }, '404'],
  ];
  withRouter((registry) => {
    const model = modelOf(t);
    const router = new Router(model, registry);
    for (const [name, req, want] of table) assert.equal(reaches(model, router, req), want, name);
  });
});

test('match values that cannot be applied: a diagnostic naming the field, the match not routed', () => {
  const t = translateFixture('match-invalid.yaml');
  assert.deepEqual(routes(t), ['bad.example.com: Prefix /m10 if {"headers":[{"name":"x-dup","type":"Exact","value":"first"}]} → default/web:80']);
  const m = 'HTTPRoute default/invalid spec.rules[0].matches';
  assert.deepEqual(brief(t.diagnostics), [
    `error PASS_GATEWAY_BAD_MATCH ${m}[0].method`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[1].headers[0].name`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[2].headers[0].value`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[3].headers[0].value`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[4].headers[0].value`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[5].headers[0].type`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[6].queryParams[0].name`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[7].queryParams[0].value`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[8].queryParams[0].value`,
    `error PASS_GATEWAY_BAD_MATCH ${m}[9].headers[0]`,
    `warning PASS_GATEWAY_FIELD_IGNORED ${m}[10].headers[1]`,
  ]);
  assert.match(t.diagnostics.find((d) => d.field?.endsWith('[3].headers[0].value'))?.message ?? '', /may only repeat one character/);
  assert.match(t.diagnostics.find((d) => d.field?.endsWith('[0].method'))?.message ?? '', /FETCH.*not one of GET/);
  const parent = t.status.httpRoutes[0]?.parents[0]?.conditions.map((c) => `${c.type}=${c.status}`);
  assert.deepEqual(parent, ['Accepted=True', 'ResolvedRefs=True', 'PartiallyInvalid=True']);
});

const regexTable: readonly [pattern: string, ok: boolean][] = [
  ['v[0-9]+', true],
  ['one|two', true],
  ['(?:ab)?c', true],
  ['a.*', true],
  ['', false],
  ['(a+)+', false],
  ['a{2}', false],
  ['(?=a)', false],
  ['a\\1', false],
  ['a b', false],
  ['[[:alpha:]]', false],
  ['"quoted"', false],
];
for (const [pattern, ok] of regexTable) {
  test(`value regex grammar: ${JSON.stringify(pattern)} is ${ok ? 'accepted' : 'refused'}`, () => {
    assert.equal(valueRegexProblem(pattern) === undefined, ok, valueRegexProblem(pattern));
  });
}

test('suffix hosts: a Gateway API wildcard matches one or more labels; exact, then the longest pattern, then none', () => {
  const t = translateFixture('suffix-hosts.yaml');
  assert.deepEqual(t.virtualHosts.map((vh) => `${vh.host} ${vh.kind}`), ['exact.api.example.com exact', '*.api.example.com suffix', '*.example.com suffix']);
  const table: readonly [host: string, backend: string][] = [
    ['a.example.com', V1],
    ['a.b.c.example.com', V1],
    ['example.com', '404'],
    ['api.example.com', V1],
    ['x.api.example.com', V2],
    ['y.x.api.example.com', V2],
    ['EXACT.api.example.com:8080', V2],
    ['a.example.org', '404'],
  ];
  withRouter((registry) => {
    const model = modelOf(t);
    const router = new Router(model, registry);
    assert.equal(router.hasConditions, false);
    for (const [host, want] of table) assert.equal(reaches(model, router, { host, target: '/' }), want, host);
  });
});

const hostTable: readonly [name: string, kind: HostKind, pattern: string, host: string, matches: boolean][] = [
  ['wildcard-one-label', 'wildcard', '*.a.com', 'x.a.com', true],
  ['wildcard-not-two-labels', 'wildcard', '*.a.com', 'y.x.a.com', false],
  ['suffix-one-label', 'suffix', '*.a.com', 'x.a.com', true],
  ['suffix-two-labels', 'suffix', '*.a.com', 'y.x.a.com', true],
  ['suffix-not-the-domain', 'suffix', '*.a.com', 'a.com', false],
  ['suffix-not-a-longer-label', 'suffix', '*.a.com', 'xa.com', false],
];
for (const [name, kind, pattern, host, matches] of hostTable) {
  test(`hostMatches: ${name}`, () => assert.equal(hostMatches({ host: pattern, kind }, host), matches));
}

test('selectVirtualHost: exact, then the longest wildcard or suffix (an Ingress wildcard and a Gateway suffix alike), then *', () => {
  const vh = (host: string, kind: HostKind): VirtualHost => ({ host, kind, routes: [], sources: [] });
  const list = [vh('a.b.com', 'exact'), vh('*.b.com', 'suffix'), vh('*.x.b.com', 'wildcard'), vh('*.y.x.b.com', 'suffix'), vh('*', 'any')];
  const table: readonly [host: string, chosen: string][] = [
    ['a.b.com', 'a.b.com'],
    ['c.b.com', '*.b.com'],
    ['c.x.b.com', '*.x.b.com'],
    ['d.c.x.b.com', '*.b.com'],
    ['z.y.x.b.com', '*.y.x.b.com'],
    ['q.z.y.x.b.com', '*.y.x.b.com'],
    ['other.org', '*'],
  ];
  for (const [host, chosen] of table) assert.equal(selectVirtualHost(list, host)?.host, chosen, host);
});

const queryTable: readonly [query: string, name: string, value: string | undefined][] = [
  ['a=1&b=2', 'b', '2'],
  ['a=1&a=2', 'a', '1'],
  ['a&b=2', 'a', ''],
  ['ab=1', 'a', undefined],
  ['b=a=1', 'b', 'a=1'],
  ['x=%20y', 'x', '%20y'],
  ['', 'a', undefined],
  ['=1&a=', 'a', ''],
];
for (const [query, name, value] of queryTable) {
  test(`queryParam: ${JSON.stringify(query)} ${name}`, () => assert.equal(queryParam(query, name), value));
}

test('compareRoutes: for one path, a method first, then more headers, then more query parameters; equal ones keep their order', () => {
  const r = (name: string, conditions?: RouteConditions): Route => ({ path: '/', pathType: 'Prefix', backend: name, source: { kind: 'HTTPRoute', namespace: 'd', name }, field: 'f', ...(conditions === undefined ? {} : { conditions }) });
  const h = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `h${i}`, type: 'Exact' as const, value: 'v' }));
  const list = [r('plain'), r('q2', { query: h(2) }), r('h1', { headers: h(1) }), r('m', { method: 'GET' }), r('h2', { headers: h(2) }), r('h1q1', { headers: h(1), query: h(1) }), r('h1-again', { headers: h(1) })];
  assert.deepEqual([...list].sort(compareRoutes).map((x) => x.backend), ['m', 'h2', 'h1q1', 'h1', 'h1-again', 'q2', 'plain']);
  assert.equal(sameMatch(r('a', { headers: h(1) }), r('b', { headers: h(1) })), true);
  assert.equal(sameMatch(r('a', { headers: h(1) }), r('b', { headers: h(2) })), false);
});

test('routeConditionsHold: all must hold; no conditions always hold; a request without headers or query is a plain GET', () => {
  const route = { conditions: { method: 'POST', headers: [{ name: 'x', type: 'RegularExpression' as const, value: 'a|b' }], query: [{ name: 'q', type: 'Exact' as const, value: '' }] } };
  const req = (method: string, x: string | undefined, query: string): ConditionRequest => ({ method, header: (n) => (n === 'x' ? x : undefined), query });
  assert.equal(routeConditionsHold(route, req('POST', 'b', 'q')), true);
  assert.equal(routeConditionsHold(route, req('POST', 'c', 'q')), false);
  assert.equal(routeConditionsHold(route, req('GET', 'a', 'q=')), false);
  assert.equal(routeConditionsHold(route, req('POST', 'a', 'p=')), false);
  assert.equal(routeConditionsHold(route, req('POST', undefined, 'q')), false);
  assert.equal(routeConditionsHold({}, req('DELETE', undefined, '')), true);
});

// The native router against resolveRequest on generated models with conditions and every host kind.
const label = fc.constantFrom('a', 'b', 'foo');
const genHost = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
const genPath = fc.array(fc.constantFrom('a', 'b', ''), { maxLength: 2 }).map((ss) => `/${ss.join('/')}`);
const genValue = fc.record({ name: fc.constantFrom('x', 'y'), type: fc.constantFrom('Exact' as const, 'RegularExpression' as const), value: fc.constantFrom('1', '2', '1|2', '[0-9]') });
const genConditions = fc.option(
  fc.record({ method: fc.option(fc.constantFrom('GET', 'POST'), { nil: undefined }), headers: fc.array(genValue, { maxLength: 2 }), query: fc.array(genValue, { maxLength: 2 }) }).map((c): RouteConditions => ({
    ...(c.method === undefined ? {} : { method: c.method }),
    ...(c.headers.length === 0 ? {} : { headers: c.headers.filter((v, i) => c.headers.findIndex((o) => o.name === v.name) === i) }),
    ...(c.query.length === 0 ? {} : { query: c.query.filter((v, i) => c.query.findIndex((o) => o.name === v.name) === i) }),
  })),
  { nil: undefined },
);
const backendIds = ['ns/a:80', 'ns/b:80', 'ns/c:80'];
const genRoute = fc.record({ path: genPath, pathType: fc.constantFrom('Exact' as const, 'Prefix' as const), backend: fc.constantFrom(...backendIds), conditions: genConditions }).map(
  (r): Route => ({ path: r.pathType === 'Prefix' ? r.path.replace(/\/+$/, '') || '/' : r.path, pathType: r.pathType, backend: r.backend, source: { kind: 'HTTPRoute', namespace: 'ns', name: 'r' }, field: 'spec', ...(r.conditions === undefined ? {} : { conditions: r.conditions }) }),
);
const genVhost = fc.record({ host: genHost, kind: fc.constantFrom('exact' as const, 'wildcard' as const, 'suffix' as const, 'any' as const), routes: fc.array(genRoute, { maxLength: 5 }) }).map(
  (v): VirtualHost => ({ host: v.kind === 'any' ? '*' : v.kind === 'exact' ? v.host : `*.${v.host}`, kind: v.kind, routes: [...v.routes].sort(compareRoutes), sources: [] }),
);
const genBackends: Record<string, Backend> = Object.fromEntries(backendIds.map((id) => [id, { id, namespace: 'ns', service: id, servicePort: 80, protocol: 'http', endpoints: [] }]));
const genRequest = fc.record({
  host: genHost,
  path: genPath,
  method: fc.constantFrom('GET', 'POST'),
  x: fc.option(fc.constantFrom('1', '2', '3'), { nil: undefined }),
  query: fc.constantFrom('', 'x=1', 'y=2&x=3', 'x=2&x=1', 'y'),
});

test('native router resolves requests with conditions and suffix hosts exactly as resolveRequest', () => {
  withRouter((registry) => {
    fc.assert(
      fc.property(fc.array(genVhost, { maxLength: 5 }), fc.array(genRequest, { minLength: 1, maxLength: 10 }), (vhosts, requests) => {
        const model: RoutingModel = { entryPoints: [], virtualHosts: vhosts, backends: genBackends, certificates: [], diagnostics: [] };
        const router = new Router(model, registry);
        for (const q of requests) {
          const request: ConditionRequest = { method: q.method, header: (n) => (n === 'x' ? q.x : undefined), query: q.query };
          const expected = resolveRequest(model, q.host, q.path, request);
          const got = router.resolve(q.host, q.path, request);
          assert.equal(got.found ? got.backendId : '404', expected.outcome === 'route' ? expected.route.backend : '404', JSON.stringify(q));
        }
      }),
      { numRuns: 500 },
    );
  });
});

test('header modifiers: set, add and remove on both sides; a name repeated in a list counts once; bad names and values deny the rule', () => {
  const t = translateFixture('header-modifiers.yaml');
  const denied = '{"denied":"a filter of this HTTPRoute rule is not supported"}';
  assert.deepEqual(routes(t), [
    `h.example.com: Prefix /bad-remove → default/web:80 ${denied}`,
    'h.example.com: Prefix /multiple → default/web:80 {"headers":{"request":{"X-Header-Set-1":"header-set-1","X-Header-Set-2":"header-set-2"},"requestAdd":{"X-Header-Add-1":"header-add-1"},"requestRemove":["x-header-remove-1","x-header-remove-2"],"response":{"X-Header-Set":"set-overwrites-values"},"responseAdd":{"X-Header-Add":"add-appends-values"},"responseRemove":["x-header-remove"]}}',
    `h.example.com: Prefix /bad-add → default/web:80 ${denied}`,
  ]);
  assert.deepEqual(brief(t.diagnostics), [
    'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/modifiers spec.rules[1].filters[0].responseHeaderModifier.remove[0]',
    'error PASS_GATEWAY_FILTER_NOT_SUPPORTED HTTPRoute default/modifiers spec.rules[2].filters[0].requestHeaderModifier.add[0]',
  ]);
});

test('header modifiers: add and remove kept in haproxy and nginx modes too (every mode renders them)', () => {
  const native = translateFixture('header-modifiers.yaml').virtualHosts[0]?.routes.find((r) => r.path === '/multiple');
  for (const mode of ['haproxy', 'nginx'] as const) {
    const t = translateGateway(deepFreeze(load('header-modifiers.yaml')), { controllerName: 'passerelle.dev/gateway-controller', entryPoints, mode });
    const multiple = t.virtualHosts[0]?.routes.find((r) => r.path === '/multiple');
    assert.deepEqual(multiple?.policy, native?.policy, mode);
    assert.ok(!brief(t.diagnostics).some((d) => d.includes('PASS_POLICY_NOT_IN_MODE')), mode);
  }
});

const editTable: readonly [name: string, headers: string[], edit: HeaderEdit, want: string[]][] = [
  ['remove-any-case', ['X-A', '1', 'x-b', '2'], { remove: ['x-a'], set: [], add: [] }, ['x-b', '2']],
  ['set-replaces-every-line', ['x-a', '1', 'X-A', '2', 'x-b', '3'], { remove: [], set: ['X-A', 'new'], add: [] }, ['x-b', '3', 'X-A', 'new']],
  ['add-appends-a-line', ['x-a', '1'], { remove: [], set: [], add: ['X-A', '2'] }, ['x-a', '1', 'X-A', '2']],
  ['remove-then-set-then-add', ['x-a', '1', 'x-r', '2'], { remove: ['x-a', 'x-r'], set: ['x-a', 's'], add: ['x-a', 'a'] }, ['x-a', 's', 'x-a', 'a']],
];
for (const [name, headers, edit, want] of editTable) {
  test(`native editHeaders: ${name}`, () => assert.deepEqual(editHeaders(headers, edit), want));
}

test('more than two weighted backends: a split, each request to one backend by weight', () => {
  const native = translateFixture('weighted-backends.yaml');
  const split = native.virtualHosts[0]?.routes.find((r) => r.path === '/three')?.policy?.split;
  assert.ok(split !== undefined);
  const table: readonly [random: number, backend: string][] = [
    [0, V1],
    [0.69, V1],
    [0.7, V2],
    [0.89, V2],
    [0.9, V3],
    [0.999, V3],
  ];
  for (const [random, backend] of table) assert.equal(pickSplit(split, random), backend, String(random));
});

test('explain: the method, headers and query of the request choose among routes with conditions, and say why the others do not', () => {
  const model = modelOf(translateFixture('match-conditions.yaml'));
  const ask = (url: string, method?: string, headers?: [string, string][]) => explainRequest(model, { url, ...(method === undefined ? {} : { method }), ...(headers === undefined ? {} : { headers }) });
  assert.equal(ask('http://method.example.com:8000/path2', 'POST', [['Version', 'two']]).route?.source, 'HTTPRoute default/method-matching spec.rules[4].matches[0]');
  assert.equal(ask('http://method.example.com:8000/path2', 'POST').route?.source, 'HTTPRoute default/method-matching spec.rules[0].matches[0]');
  const e = ask('http://query.example.com:8000/?animal=dolphin&color=blue');
  assert.equal(e.route?.source, 'HTTPRoute default/query-param-matching spec.rules[2].matches[0]');
  assert.ok(e.lines.includes('  not Prefix / if query animal = "whale": its conditions do not hold for this request'), e.lines.join('\n'));
});

test('explain: a host served on another entry point only is looked past, and says where it is served', () => {
  const route = { path: '/', pathType: 'Prefix' as const, backend: 'default/web:80', source: { kind: 'HTTPRoute', namespace: 'default', name: 'r' }, field: 'spec.rules[0]' };
  const model: RoutingModel = {
    entryPoints: [
      { name: 'web', address: { port: 8000 }, tls: false, middlewares: [] },
      { name: 'other', address: { port: 8001 }, tls: false, middlewares: [] },
    ],
    virtualHosts: [{ host: 'only.example.com', kind: 'exact', routes: [route], sources: [route.source], entryPoints: ['other'] }],
    backends: { 'default/web:80': { id: 'default/web:80', namespace: 'default', service: 'web', servicePort: 80, protocol: 'http', endpoints: [{ address: '10.0.0.1', port: 80, weight: 1 }] } },
    certificates: [],
    diagnostics: [],
  };
  const there = explainRequest(model, { url: 'http://only.example.com:8001/' });
  assert.equal(there.virtualHost, 'only.example.com');
  assert.equal(there.status, 200);
  const elsewhere = explainRequest(model, { url: 'http://only.example.com:8000/' });
  assert.equal(elsewhere.virtualHost, undefined);
  assert.equal(elsewhere.status, 404);
  assert.ok(elsewhere.lines.includes('  not only.example.com: served only on entry point other'), elsewhere.lines.join('\n'));
});

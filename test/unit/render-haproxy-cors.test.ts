/*
 * The Gateway API CORS additions of the cors policy rendered for HAProxy: origin patterns as
 * case-insensitive regexes, any origin answered by name, a preflight's method and headers echoed,
 * exposed headers; compared with a golden render and read by haproxy -c. The view keeps only what
 * HAProxy can hold: a pattern outside the grammar is left out (fewer origins, never more).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CorsPolicy, RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, Route, RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { renderHaproxy } from '../../src/render/haproxy/index.ts';
import { corsView, originPatternRegex } from '../../src/render/haproxy/policy.ts';
import { golden } from './golden.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { CORS_ANY, CORS_LISTED, CORS_STAR } from '../cors-policies.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'cors' };

const LISTED: CorsPolicy = { ...CORS_LISTED, originPatterns: ['https://*.bar.test', 'http://*.baz.test:8080'] };
const ANY = CORS_ANY;
const STAR: CorsPolicy = { ...CORS_STAR, echoMethods: true, allowMethods: [], allowHeaders: ['x-h'] };

function backend(name: string): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }], protocol: 'http' };
}

function route(p: string, policy?: RoutePolicy): Route {
  return { path: p, pathType: 'Prefix', backend: 'default/site:80', source: SRC, field: `spec.rules[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

function corsModel(): RoutingModel {
  return {
    entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] }],
    virtualHosts: [{ host: 'cors.test', kind: 'exact', sources: [SRC], routes: [route('/listed', { cors: LISTED }), route('/any', { cors: ANY }), route('/star', { cors: STAR }), route('/')] }],
    backends: { 'default/site:80': backend('site') },
    certificates: [],
    diagnostics: [],
  };
}

test('golden: haproxy Gateway API CORS (listed origins and patterns, any origin echoed, * echoed, exposed headers)', () => {
  golden('haproxy-cors-gateway.txt', formatDryRun(renderHaproxy(corsModel(), { workDir: WORK })));
});

test('haproxy cors: a pattern becomes an anchored regex of one or more labels with the port as written; one outside the grammar is left out', () => {
  assert.equal(originPatternRegex('https://*.bar.test'), '^https://([a-z0-9-]+\\.)+bar\\.test$');
  assert.equal(originPatternRegex('http://*.a-b.baz.test:8080'), '^http://([a-z0-9-]+\\.)+a-b\\.baz\\.test:8080$');
  for (const bad of ["https://*.bar.test'", 'https://*.bar.test/x', 'https://a.*.test', 'ftp://*.x.test', 'https://*.bar test', 'https://*.(a|b).test']) assert.equal(originPatternRegex(bad), undefined, bad);
  const regex = new RegExp(originPatternRegex('https://*.bar.test') ?? '', 'i');
  for (const o of ['https://a.bar.test', 'https://A.b.bar.test']) assert.ok(regex.test(o), o);
  for (const o of ['https://bar.test', 'http://a.bar.test', 'https://a.bar.test.evil', 'https://a.bar.test:8443', 'https://a.barxtest']) assert.ok(!regex.test(o), o);
  const view = corsView({ ...LISTED, originPatterns: ['https://*.bar.test', "https://*.x'y.test"] });
  assert.deepEqual(view?.patterns, ['^https://([a-z0-9-]+\\.)+bar\\.test$']);
});

test('haproxy cors: echoed origin is answered by name with Vary; echoed methods and headers replace the lists on preflights; exposed headers on every answer', () => {
  const any = corsView(ANY);
  assert.equal(any?.any, false);
  assert.equal(any?.echoOrigin, true);
  assert.deepEqual(any?.headers.map((h) => h.name), ['Vary', 'Access-Control-Allow-Credentials', 'Access-Control-Max-Age']);
  const both = corsView({ ...STAR, allowMethods: ['PUT'], echoHeaders: true });
  assert.equal(both?.any, true);
  assert.deepEqual(both?.headers.filter((h) => h.answerOnly).map((h) => h.name), ['Access-Control-Allow-Methods', 'Access-Control-Allow-Headers'], 'a preflight gets the echoed values only');
  assert.deepEqual(corsView(LISTED)?.headers.find((h) => h.name === 'Access-Control-Expose-Headers'), { name: 'Access-Control-Expose-Headers', value: 'x-h3, x-h4', preflightOnly: false, answerOnly: false });
  const text = renderHaproxy(corsModel(), { workDir: WORK }).main.content;
  assert.match(text, / \{ req\.fhdr\(origin\) -m reg -i '\^https:\/\/\(\[a-z0-9-\]\+\\\.\)\+bar\\\.test\$' '\^http:\/\/\(\[a-z0-9-\]\+\\\.\)\+baz\\\.test:8080\$' \}\n/);
  assert.match(text, /hdr Access-Control-Allow-Methods %\[req\.fhdr\(access-control-request-method\)\] hdr Access-Control-Allow-Headers %\[req\.fhdr\(access-control-request-headers\)\] if /);
  assert.doesNotMatch(text, /req\.hdr\(access-control-request/, 'req.hdr would keep the last item of a list');
});

test('haproxy -c accepts the Gateway API CORS rendering', () => {
  const work = workWithDefaultCert('passerelle-cors-');
  const r = renderHaproxy(corsModel(), { workDir: work.dir });
  checkRendering(r, work.dir, work);
});

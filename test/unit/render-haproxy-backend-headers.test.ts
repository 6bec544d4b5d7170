/*
 * The route policy `backendHeaders` (Gateway API filters on the backendRefs of a rule with two weighted
 * backends) rendered for HAProxy: a canary route whose backends each change request and answer headers,
 * compared with a golden render and read by haproxy -c; each backend's rules come after the route's own
 * (CORS and HSTS included) on their side, conditioned on the backend chosen; a value HAProxy cannot
 * write answers 503; a backend the request never goes to renders nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, Route, RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy } from '../../src/render/haproxy/index.ts';
import { golden } from './golden.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';

const WORK = '/var/lib/passerelle';
const SRC = { kind: 'HTTPRoute', namespace: 'default', name: 'split' };

function backend(name: string): Backend {
  return { id: `default/${name}:80`, namespace: 'default', service: name, servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }], protocol: 'http' };
}

function route(p: string, policy?: RoutePolicy): Route {
  return { path: p, pathType: 'Prefix', backend: 'default/v1:80', source: SRC, field: `spec.rules[${p}]`, ...(policy === undefined ? {} : { policy }) };
}

const POLICY: RoutePolicy = {
  canary: { backend: 'default/v2:80', weight: 50 },
  headers: { request: { 'X-Route': 'route' }, response: { 'X-Route-Answer': 'route' } },
  hsts: { maxAgeSeconds: 60, includeSubdomains: false, preload: false },
  backendHeaders: {
    'default/v1:80': { request: { Backend: 'v1' }, requestAdd: { 'X-Added': 'v1' }, requestRemove: ['x-gone'], response: { 'X-From': 'v1' }, responseRemove: ['server'] },
    'default/v2:80': { request: { Backend: 'v2' }, responseAdd: { 'X-Also': 'v2' } },
    'default/v3:80': { request: { Backend: 'v3' } },
  },
};

function splitModel(routes: Route[] = [route('/split', POLICY), route('/')]): RoutingModel {
  return {
    entryPoints: [
      { name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] },
      { name: 'websecure', address: { host: '127.0.0.1', port: 8443 }, tls: true, middlewares: [] },
    ],
    virtualHosts: [{ host: 'split.test', kind: 'exact', sources: [SRC], routes }],
    backends: { 'default/v1:80': backend('v1'), 'default/v2:80': backend('v2'), 'default/v3:80': backend('v3') },
    certificates: [],
    diagnostics: [],
  };
}

test('golden: haproxy canary route whose two backends change headers', () => {
  golden('haproxy-backend-headers.txt', formatDryRun(renderHaproxy(splitModel(), { workDir: WORK })));
});

test('haproxy backendHeaders: each backend\'s changes after the route\'s, on the backend chosen; unwritable values answer 503', () => {
  const { view } = buildHaproxyView(splitModel(), { workDir: WORK });
  const p = view.policies.find((x) => x.backendHeaders.length > 0);
  assert.deepEqual(p?.backendHeaders.map((b) => [b.canary, b.requestHeaders]), [
    [false, [{ name: 'Backend', value: 'v1' }]],
    [true, [{ name: 'Backend', value: 'v2' }]],
  ], 'the main backend and the canary; v3 (never chosen) renders nothing');
  const main = renderHaproxy(splitModel(), { workDir: WORK }).main.content;
  const id = p?.id ?? '';
  const canary = '{ var(txn.pass_canary) -m int eq 1 }';
  // In the TLS frontend (the last one): it has HSTS.
  const rule = (text: string): number => {
    const at = main.lastIndexOf(`\n  ${text}\n`);
    assert.ok(at >= 0, text);
    return at;
  };
  const routeSet = rule(`http-request set-header X-Route "route" if pass_${id}`);
  const del = rule(`http-request del-header x-gone if pass_${id} !${canary}`);
  const v1 = rule(`http-request set-header Backend "v1" if pass_${id} !${canary}`);
  const added = rule(`http-request add-header X-Added "v1" if pass_${id} !${canary}`);
  rule(`http-request set-header Backend "v2" if pass_${id} ${canary}`);
  assert.ok(routeSet < del && del < v1 && v1 < added, 'remove, set, add, after the route\'s');
  const hsts = rule(`http-response set-header Strict-Transport-Security "max-age=60" if pass_${id}`);
  const answerDel = rule(`http-response del-header server if pass_${id} !${canary}`);
  const from = rule(`http-response set-header X-From "v1" if pass_${id} !${canary}`);
  rule(`http-response add-header X-Also "v2" if pass_${id} ${canary}`);
  assert.ok(hsts < answerDel && answerDel < from, 'after the route\'s answer headers, HSTS included');
  assert.doesNotMatch(main, /Backend v3/);
  const bad = buildHaproxyView(splitModel([route('/split', { ...POLICY, backendHeaders: { 'default/v2:80': { response: { 'X-Bad': 'a\nb' } } } })]), { workDir: WORK });
  assert.equal(bad.view.policies[0]?.denied, 'Service Unavailable: a header of this route cannot be written into the HAProxy configuration', 'never served without its changes');
  // An unwritable canary: the main backend serves every request, with its changes.
  const odd = buildHaproxyView(splitModel([route('/split', { ...POLICY, canary: { backend: 'default/v2:80', weight: 150 } })]), { workDir: WORK });
  assert.deepEqual(odd.view.policies[0]?.backendHeaders.map((b) => b.canary), [false]);
  const plain = renderHaproxy(splitModel([route('/split', { canary: POLICY.canary!, headers: POLICY.headers! }), route('/')]), { workDir: WORK }).main.content;
  assert.doesNotMatch(plain, /-header .*txn\.pass_canary/, 'no backendHeaders: no header rule reads the backend chosen');
});

test('haproxy -c accepts a route with backendHeaders', () => {
  const work = workWithDefaultCert('passerelle-backend-headers-');
  const r = renderHaproxy(splitModel(), { workDir: work.dir });
  assert.doesNotMatch(checkRendering(r, work.dir, work), /WARNING/, 'no warning');
});

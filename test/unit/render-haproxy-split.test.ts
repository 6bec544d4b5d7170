/*
 * The route policy `split` (more than two weighted backends, Gateway API backendRefs) rendered for
 * HAProxy: one draw of rand(sum of weights) per request, each backend on its adjacent range of draws
 * (txn.be), its own header changes (`backendHeaders`) on the same range and after the route's; compared
 * with a golden render and read by haproxy -c. A backend without a section is drawn as pass_unavailable
 * (503, as the native proxy answers), one of weight 0 is never drawn, unusable weights leave the main
 * backend serving every request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { Backend, Route, RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildHaproxyView, renderHaproxy } from '../../src/render/haproxy/index.ts';
import { splitView } from '../../src/render/haproxy/policy.ts';
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

const SPLIT: NonNullable<RoutePolicy['split']> = {
  backends: [
    { backend: 'default/v1:80', weight: 6 },
    { backend: 'default/v2:80', weight: 3 },
    { backend: 'default/v3:80', weight: 1 },
  ],
};

const POLICY: RoutePolicy = {
  split: SPLIT,
  headers: { request: { 'X-Route': 'route' } },
  backendHeaders: {
    'default/v1:80': { request: { Backend: 'v1' } },
    'default/v3:80': { request: { Backend: 'v3' }, response: { 'X-From': 'v3' }, requestRemove: ['x-gone'] },
  },
};

function splitModel(routes: Route[] = [route('/split', POLICY), route('/weights', { split: SPLIT }), route('/')]): RoutingModel {
  return {
    entryPoints: [{ name: 'web', address: { host: '127.0.0.1', port: 8000 }, tls: false, middlewares: [] }],
    virtualHosts: [{ host: 'split.test', kind: 'exact', sources: [SRC], routes }],
    backends: { 'default/v1:80': backend('v1'), 'default/v2:80': backend('v2'), 'default/v3:80': backend('v3') },
    certificates: [],
    diagnostics: [],
  };
}

test('golden: haproxy split route over three backends, with and without backend header changes', () => {
  golden('haproxy-split.txt', formatDryRun(renderHaproxy(splitModel(), { workDir: WORK })));
});

test('haproxy split: adjacent draw ranges by weight, txn.be set once per range, header changes on the same ranges', () => {
  const { view, diagnostics } = buildHaproxyView(splitModel(), { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  const p = view.policies.find((x) => x.backendHeaders.length > 0);
  assert.deepEqual(p?.split, {
    total: 10,
    backends: [
      { backend: 'be_default.v1:80', from: null, to: 6 },
      { backend: 'be_default.v2:80', from: 6, to: 9 },
      { backend: 'be_default.v3:80', from: 9, to: null },
    ],
  });
  assert.equal(p.canary, null);
  assert.deepEqual(p.backendHeaders.map((b) => [b.canary, b.split, b.requestHeaders]), [
    [false, { from: null, to: 6 }, [{ name: 'Backend', value: 'v1' }]],
    [false, { from: 9, to: null }, [{ name: 'Backend', value: 'v3' }]],
  ], 'v2 changes nothing: no rule');
  const main = renderHaproxy(splitModel(), { workDir: WORK }).main.content;
  const id = p.id;
  const rule = (text: string): number => {
    const at = main.indexOf(`\n  ${text}\n`);
    assert.ok(at >= 0, text);
    return at;
  };
  const draw = rule(`http-request set-var(txn.pass_split) rand(10) if pass_${id}`);
  const v1 = rule(`http-request set-var(txn.be) str(be_default.v1:80) if pass_${id} { var(txn.pass_split) -m int lt 6 }`);
  const v2 = rule(`http-request set-var(txn.be) str(be_default.v2:80) if pass_${id} { var(txn.pass_split) -m int ge 6 } { var(txn.pass_split) -m int lt 9 }`);
  const v3 = rule(`http-request set-var(txn.be) str(be_default.v3:80) if pass_${id} { var(txn.pass_split) -m int ge 9 }`);
  assert.ok(draw < v1 && v1 < v2 && v2 < v3);
  const routeSet = rule(`http-request set-header X-Route "route" if pass_${id}`);
  const del = rule(`http-request del-header x-gone if pass_${id} { var(txn.pass_split) -m int ge 9 }`);
  const h1 = rule(`http-request set-header Backend "v1" if pass_${id} { var(txn.pass_split) -m int lt 6 }`);
  const h3 = rule(`http-request set-header Backend "v3" if pass_${id} { var(txn.pass_split) -m int ge 9 }`);
  rule(`http-response set-header X-From "v3" if pass_${id} { var(txn.pass_split) -m int ge 9 }`);
  assert.ok(v3 < routeSet && routeSet < h1 && h1 < del && del < h3, 'after txn.be is final and after the route\'s own; remove before set');
  assert.doesNotMatch(main, /pass_canary/, 'no canary rule');
  // The route without backend header changes has its own policy (and no header rule).
  const plain = view.policies.find((x) => x.split !== null && x.backendHeaders.length === 0);
  assert.ok(plain !== undefined && plain.id !== id);
});

test('haproxy split: weight 0 never drawn, a backend without a section draws 503, unusable weights leave the main backend', () => {
  const pick = (s: NonNullable<RoutePolicy['split']>): ReturnType<typeof splitView> => splitView(s, (b) => (b === 'default/gone:80' ? 'pass_unavailable' : `be_${b}`));
  assert.deepEqual(pick({ backends: [{ backend: 'a', weight: 0 }, { backend: 'b', weight: 2 }, { backend: 'default/gone:80', weight: 1 }] }), {
    total: 3,
    backends: [
      { backend: 'be_b', from: null, to: 2 },
      { backend: 'pass_unavailable', from: 2, to: null },
    ],
  });
  assert.equal(pick({ backends: [{ backend: 'a', weight: 1.5 }, { backend: 'b', weight: 1 }, { backend: 'c', weight: 1 }] }), null);
  assert.equal(pick({ backends: [{ backend: 'a', weight: -1 }, { backend: 'b', weight: 1 }, { backend: 'c', weight: 1 }] }), null);
  assert.equal(pick({ backends: [{ backend: 'a', weight: 0 }, { backend: 'b', weight: 0 }, { backend: 'c', weight: 0 }] }), null);
  assert.equal(pick({ backends: [{ backend: 'a', weight: 2 ** 30 }, { backend: 'b', weight: 2 ** 30 }, { backend: 'c', weight: 1 }] }), null, 'more than rand draws from');
  // Through the registry: a missing backend's share answers 503 (pass_unavailable), as the native proxy does.
  const gone: RoutePolicy = { split: { backends: [...SPLIT.backends, { backend: 'default/gone:80', weight: 2 }] } };
  const main = renderHaproxy(splitModel([route('/gone', gone)]), { workDir: WORK }).main.content;
  assert.match(main, /http-request set-var\(txn\.be\) str\(pass_unavailable\) if pass_\w+ \{ var\(txn\.pass_split\) -m int ge 10 \}\n/);
  assert.match(main, /rand\(12\)/);
  // Unusable weights: a warning, and the main backend serves every request with its own changes.
  const odd = buildHaproxyView(splitModel([route('/odd', { ...POLICY, split: { backends: [{ backend: 'default/v1:80', weight: 0.5 }, ...SPLIT.backends.slice(1)] } })]), { workDir: WORK });
  assert.equal(odd.view.policies[0]?.split, null);
  assert.deepEqual(odd.view.policies[0]?.backendHeaders.map((b) => [b.canary, b.split, b.requestHeaders]), [[false, null, [{ name: 'Backend', value: 'v1' }]]]);
  assert.ok(odd.diagnostics.some((d) => d.code === 'PASS_POLICY_NOT_IN_MODE' && /split weights/.test(d.message)));
});

test('haproxy split: a canary beside a split is not rendered (the split decides, as in the native proxy)', () => {
  const both = buildHaproxyView(splitModel([route('/both', { ...POLICY, canary: { backend: 'default/v2:80', weight: 50 } })]), { workDir: WORK });
  assert.equal(both.view.policies[0]?.canary, null);
  assert.equal(both.view.policies[0]?.split?.total, 10);
  assert.deepEqual(both.diagnostics, []);
});

test('haproxy -c accepts a split route', () => {
  const work = workWithDefaultCert('passerelle-split-');
  const r = renderHaproxy(splitModel(), { workDir: work.dir });
  assert.doesNotMatch(checkRendering(r, work.dir, work), /WARNING/, 'no warning');
  assert.ok(r.main.content.includes('rand(10)'));
});

/*
 * The `split` policy (more than two weighted backends: Gateway API backendRefs) rendered for nginx: a
 * `split_clients` on `$request_id` setting the canary variable `$pass_canary_N` to an upstream by the
 * shares weight / sum (two decimals, the last backend `*`), the location proxying to it as a canary's,
 * each backend's header changes by maps on that variable; compared with a golden render, and accepted by
 * `nginx -t` with and without the Lua balancer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { splitEntry } from '../../src/render/nginx/policy.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';
const id = (name: string): string => `default/${name}:80`;
const ep = (address: string) => [{ address, port: 8080, weight: 1 }];
const splitOf = (...weights: [string, number][]): RoutePolicy => ({ split: { backends: weights.map(([name, weight]) => ({ backend: id(name), weight })) } });

const weights = splitOf(['v1', 6], ['v2', 3], ['v3', 1]);
const withHeaders: RoutePolicy = {
  ...weights,
  headers: { request: { 'X-Route': 'route' } },
  backendHeaders: { [id('v1')]: { request: { Backend: 'v1' } }, [id('v2')]: { request: { Backend: 'v2' } }, [id('v3')]: { request: { Backend: 'v3' }, response: { 'X-From': 'v3' } } },
};

function splitModel(): RoutingModel {
  return model({
    entryPoints: [entryPoint('web', 8000)],
    virtualHosts: [
      vhost('split.test', [
        { ...route('/weights', 'Prefix', 'v1'), policy: weights },
        { ...route('/thirds', 'Prefix', 'v1'), policy: splitOf(['v1', 1], ['v2', 1], ['v3', 1]) },
        { ...route('/headers', 'Prefix', 'v1'), policy: withHeaders },
        { ...route('/down', 'Prefix', 'v1'), policy: splitOf(['v1', 1], ['down', 1], ['v3', 2]) },
        { ...route('/exact', 'Exact', 'v1'), policy: { ...weights, rewrite: { kind: 'prefix', target: '/to' } } },
        { ...route('/balanced', 'Prefix', 'v1'), policy: { ...weights, upstream: { loadBalance: 'least_conn' } } },
        { ...route('/sticky', 'Prefix', 'v1'), policy: { ...weights, upstream: { affinity: { cookie: 'route' } } } },
        { ...route('/gone', 'Prefix', 'down'), policy: splitOf(['down', 1], ['gone', 1], ['none', 1]) },
      ]),
    ],
    backends: [backend('v1', ep('10.0.0.1')), backend('v2', ep('10.0.0.2')), backend('v3', ep('10.0.0.3')), backend('down', []), backend('gone', []), backend('none', [])],
  });
}

test('golden: nginx locations of routes split between three backends', () => {
  golden('nginx-split.txt', formatDryRun(renderNginx(splitModel(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx split: a split_clients of the weights feeding the location\'s upstream variable', () => {
  const { view, diagnostics } = buildNginxView(splitModel(), { workDir: WORK });
  const server = view.servers.find((s) => s.names.includes('split.test'));
  const loc = (p: string) => server?.locations.find((l) => l.path === p);
  const shares = (p: string) => {
    const variable = loc(p)?.canary?.variable;
    const c = view.canaries.find((x) => x.split?.variable === variable);
    assert.ok(c?.split, `a split for ${p}`);
    assert.deepEqual(c.stages, []);
    return [...c.split.shares.map((s) => `${s.percent.whole}.${s.percent.tenths}${s.percent.hundredths}% ${s.upstream}`), `* ${c.split.rest}`];
  };
  assert.deepEqual(shares('/weights/'), ['60.00% be_default.v1_80', '30.00% be_default.v2_80', '* be_default.v3_80']);
  // The shares add up to 100 % on the running sum: 33.33, 33.34, the rest.
  assert.deepEqual(shares('/thirds/'), ['33.33% be_default.v1_80', '33.34% be_default.v2_80', '* be_default.v3_80']);
  assert.equal(loc('/weights/')?.canary?.unavailable, null);
  assert.deepEqual(loc('/weights/')?.canary?.strip, { length: '/weights/'.length, target: '/weights/$1' });
  // A backend without endpoints keeps its share and answers 503 there.
  assert.deepEqual(shares('/down/'), ['25.00% be_default.v1_80', '25.00% ', '* be_default.v3_80']);
  assert.equal(loc('/down/')?.canary?.unavailable, 'Service Unavailable: no endpoint is ready');
  // Exact: the whole path set before proxy_pass; least_conn: the variants.
  assert.equal(loc('/exact')?.canary?.strip, null);
  assert.equal(loc('/exact')?.upstreamPath, '/to');
  assert.deepEqual(shares('/balanced/'), ['60.00% be_default.v1_80__lc', '30.00% be_default.v2_80__lc', '* be_default.v3_80__lc']);
  // Affinity is not kept across a per-request choice; no backend with endpoints: the route's 503.
  assert.equal(loc('/sticky/')?.canary?.variable, loc('/weights/')?.canary?.variable, 'the same split, one variable');
  assert.deepEqual(view.affinities, []);
  assert.equal(loc('/gone/')?.action.status, 503);
  assert.equal(loc('/gone/')?.canary, null);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.message.slice(0, 50)]),
    [['PASS_POLICY_NOT_IN_MODE', 'nginx cannot keep cookie affinity on a route whose']],
  );
});

test('nginx split: each backend\'s header changes by a map on the split\'s variable', () => {
  const { view } = buildNginxView(splitModel(), { workDir: WORK });
  const server = view.servers.find((s) => s.names.includes('split.test'));
  const loc = server?.locations.find((l) => l.path === '/headers/');
  const variable = loc?.canary?.variable ?? '';
  const maps = Object.fromEntries(view.backendMaps.map((m) => [m.variable, [m.source, ...m.entries.map((e) => `${e.upstream}=${e.variable ? '$' : ''}${e.value}`)]]));
  assert.deepEqual(loc?.policy?.requestHeaders.map((h) => `${h.name}=${h.variable ? '$' : ''}${h.value}`), ['X-Route=route', 'Backend=$pass_bh_0']);
  assert.deepEqual(maps['pass_bh_0'], [variable, 'be_default.v1_80=v1', 'be_default.v2_80=v2', 'be_default.v3_80=v3']);
  assert.deepEqual(loc?.policy?.responseHeaders, [{ name: 'X-From', variable: 'pass_bh_1' }]);
  assert.deepEqual(maps['pass_bh_1'], [variable, 'be_default.v1_80=$upstream_http_x_from', 'be_default.v2_80=$upstream_http_x_from', `be_default.v3_80=$pass_rh_${view.responseValues.indexOf('v3')}`]);
});

test('nginx split: shares in hundredths, a share too small left out, one backend alone, weights nginx cannot read', () => {
  const up = (...ws: number[]) => ws.map((weight, i) => ({ weight, upstream: `u${i}` }));
  const parts = (e: ReturnType<typeof splitEntry>) => (typeof e === 'object' ? [...(e.split?.shares.map((s) => `${s.percent.whole}.${s.percent.tenths}${s.percent.hundredths} ${s.upstream}`) ?? []), `* ${e.split?.rest ?? ''}`] : e);
  assert.deepEqual(parts(splitEntry(up(1, 2, 4), 0)), ['14.29 u0', '28.57 u1', '* u2']);
  assert.deepEqual(parts(splitEntry(up(1, 0, 1), 0)), ['50.00 u0', '* u2'], 'a weight of 0 gets none');
  assert.deepEqual(parts(splitEntry(up(1, 100_000, 100_000), 0)), ['50.00 u1', '* u2'], 'below 0.005 % rounds to none');
  assert.equal(splitEntry(up(0, 5, 0), 0), 1, 'every request to the one backend with a weight');
  assert.equal(splitEntry(up(0, 0, 0), 0), undefined);
  assert.equal(splitEntry(up(1, -1, 1), 0), undefined);
  assert.equal(splitEntry(up(1, Number.NaN, 1), 0), undefined);
  const e = splitEntry(up(1, 1, 1), 3);
  assert.equal(typeof e === 'object' ? e.split?.variable : e, 'pass_canary_3');
});

test('nginx split: a route with conditions and a split answers 503, as one with a canary (one location cannot choose both)', () => {
  const conditional = { ...route('/match', 'Prefix', 'v1'), conditions: { method: 'GET' }, policy: weights };
  const m = model({ entryPoints: [entryPoint('web', 8000)], virtualHosts: [vhost('split.test', [conditional, { ...route('/', 'Prefix', 'v2'), policy: weights }])], backends: [backend('v1', ep('10.0.0.1')), backend('v2', ep('10.0.0.2')), backend('v3', ep('10.0.0.3'))] });
  const { view, diagnostics } = buildNginxView(m, { workDir: WORK });
  const loc = view.servers.find((s) => s.names.includes('split.test'))?.locations.find((l) => l.path === '/match/');
  assert.equal(loc?.action.status, 503);
  assert.ok(diagnostics.some((d) => d.code === 'PASS_POLICY_NOT_IN_MODE' && d.message.startsWith('nginx cannot render routes with conditions and different policies')));
});

test('nginx split: nginx -t accepts the rendering with and without the Lua balancer', () => {
  const work = workWithDefaultCert('passerelle-split-');
  for (const lua of [null, LUA_MODULES]) {
    const dir = path.join(work.dir, lua === null ? 'plain' : 'lua');
    const r = renderNginx(splitModel(), { workDir: dir, luaModules: lua });
    assert.match(r.main.content, /split_clients "\$request_id" \$pass_canary_0 \{\n {4}60\.00% "be_default\.v1_80";\n {4}30\.00% "be_default\.v2_80";\n {4}\* "be_default\.v3_80";\n {2}\}/);
    assert.match(r.main.content, /proxy_pass http:\/\/\$pass_canary_0;/);
    checkRendering(r, dir, work, lua === null ? ' (without Lua)' : ' (with Lua)');
  }
});

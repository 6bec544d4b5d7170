/*
 * RequestMirror (the `mirror` policy) rendered for nginx: `mirror` directives in the route's locations,
 * one internal location per copy proxying to the mirror backend's upstream with the request URI and
 * the route's headers, a `split_clients` per share below 100 %; compared with a golden render, and
 * accepted by `nginx -t` with and without the Lua balancer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { mirrorShare } from '../../src/render/nginx/view.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';

const mirrorTo = (...targets: [string, number][]): RoutePolicy => ({ mirror: { targets: targets.map(([name, percent]) => ({ backend: `default/${name}:80`, percent })) } });
const ep = (address: string) => [{ address, port: 8080, weight: 1 }];

/** A mirrored route (two targets: 100 % and 20 %, with header changes), one sharing a copy, and the odd cases. */
function mirrorModel(): RoutingModel {
  return model({
    entryPoints: [entryPoint('web', 8000), entryPoint('other', 8001)],
    virtualHosts: [
      vhost('mirror.test', [
        { ...route('/app', 'Prefix', 'main'), policy: { ...mirrorTo(['copy', 100], ['sample', 20]), headers: { request: { 'X-Set': 'set' }, requestRemove: ['X-Drop'] }, upstream: { vhost: 'inner.test' } } },
        { ...route('/same', 'Exact', 'main'), policy: { ...mirrorTo(['copy', 100], ['sample', 20]), headers: { request: { 'X-Set': 'set' }, requestRemove: ['X-Drop'] }, upstream: { vhost: 'inner.test' } } },
        { ...route('/plain', 'Prefix', 'main'), policy: mirrorTo(['copy', 100], ['down', 100], ['never', 0], ['ghost', 100], ['third', 33.333]) },
        { ...route('/rpc', 'Prefix', 'main'), policy: { ...mirrorTo(['copy', 100]), upstream: { protocol: 'grpc' } } },
        route('/none', 'Prefix', 'main'),
      ]),
      vhost('other.test', [route('/', 'Prefix', 'main')]),
    ],
    backends: [backend('main', ep('10.0.0.1')), backend('copy', ep('10.0.0.2')), backend('sample', ep('10.0.0.3')), backend('down', []), backend('never', ep('10.0.0.4')), backend('third', ep('10.0.0.5'))],
  });
}

test('golden: nginx mirror locations of a route with two mirrors (100 % and 20 %)', () => {
  golden('nginx-mirror.txt', formatDryRun(renderNginx(mirrorModel(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx mirror: the internal locations, shares and diagnostics', () => {
  const { view, diagnostics } = buildNginxView(mirrorModel(), { workDir: WORK });
  const server = view.servers.find((s) => s.names.includes('mirror.test'));
  const loc = (p: string) => server?.locations.find((l) => l.path === p);
  assert.deepEqual(loc('/app/')?.policy?.mirrors, ['/_pass|mirror|0', '/_pass|mirror|1']);
  assert.deepEqual(loc('/same')?.policy?.mirrors, ['/_pass|mirror|0', '/_pass|mirror|1'], 'the same copies share their locations');
  // The target without endpoints, the 0 % one and the one whose backend is unknown get no copy.
  assert.deepEqual(loc('/plain/')?.policy?.mirrors, ['/_pass|mirror|2', '/_pass|mirror|3']);
  assert.ok(loc('/rpc/')?.grpc);
  assert.equal(loc('/rpc/')?.policy, null, 'no copy of a gRPC route');
  assert.equal(loc('/none/')?.policy, null);
  assert.deepEqual(
    server?.mirrors.map((m) => [m.uri, m.upstream, m.sample, m.requestHeaders.map((h) => `${h.name}=${h.value}`), m.timeouts]),
    [
      ['/_pass|mirror|0', 'be_default.copy_80', null, ['X-Drop=', 'X-Set=set', 'Host=inner.test'], { connect: 1000, send: 2000, read: 2000 }],
      ['/_pass|mirror|1', 'be_default.sample_80', 'pass_mirror_0', ['X-Drop=', 'X-Set=set', 'Host=inner.test'], { connect: 1000, send: 2000, read: 2000 }],
      ['/_pass|mirror|2', 'be_default.copy_80', null, [], { connect: 1000, send: 2000, read: 2000 }],
      ['/_pass|mirror|3', 'be_default.third_80', 'pass_mirror_1', [], { connect: 1000, send: 2000, read: 2000 }],
    ],
  );
  assert.deepEqual(view.servers.find((s) => s.names.includes('other.test'))?.mirrors, [], 'a server block without mirrored routes has no mirror location');
  assert.deepEqual(view.mirrorSamples, [
    { variable: 'pass_mirror_0', percent: { whole: 20, tenths: 0, hundredths: 0 } },
    { variable: 'pass_mirror_1', percent: { whole: 33, tenths: 3, hundredths: 3 } },
  ]);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.message]),
    [['PASS_POLICY_NOT_IN_MODE', 'nginx cannot mirror a gRPC route (its mirror locations speak HTTP/1.1); requests are served without copies']],
  );
});

test('nginx mirror: a percent as split_clients reads it (two decimals)', () => {
  assert.deepEqual(mirrorShare(33.333), { whole: 33, tenths: 3, hundredths: 3 });
  assert.deepEqual(mirrorShare(0.5), { whole: 0, tenths: 5, hundredths: 0 });
  assert.deepEqual(mirrorShare(0.001), { whole: 0, tenths: 0, hundredths: 1 }, 'a share above 0 copies some requests');
  assert.deepEqual(mirrorShare(99.99), { whole: 99, tenths: 9, hundredths: 9 });
  assert.equal(mirrorShare(99.996), 'all');
  assert.equal(mirrorShare(100), 'all');
  assert.equal(mirrorShare(0), 'none');
  assert.equal(mirrorShare(Number.NaN), 'none');
});

test('nginx mirror: nginx -t accepts the rendering with and without the Lua balancer', () => {
  const work = workWithDefaultCert('passerelle-mirror-');
  for (const lua of [null, LUA_MODULES]) {
    const dir = path.join(work.dir, lua === null ? 'plain' : 'lua');
    const r = renderNginx(mirrorModel(), { workDir: dir, luaModules: lua, headersMoreModule: null });
    assert.match(r.main.content, /mirror "\/_pass\|mirror\|1";\n/);
    checkRendering(r, dir, work, lua === null ? ' (without Lua)' : ' (with Lua)');
  }
});

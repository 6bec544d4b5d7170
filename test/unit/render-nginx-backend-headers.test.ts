/*
 * Header changes by the backend chosen (the `backendHeaders` policy: Gateway API filters on weighted
 * backendRefs) rendered for nginx: maps on the canary's `$pass_canary_N` giving each changed line its
 * value by the upstream chosen, the answer's headers the same way; compared with a golden render, and
 * accepted by `nginx -t` with and without the Lua balancer and the headers-more module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { RoutePolicy } from '../../src/model/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { HEADERS_MORE_MODULE } from '../../src/render/nginx/view.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';

const V1 = 'default/v1:80';
const V2 = 'default/v2:80';
const ep = (address: string) => [{ address, port: 8080, weight: 1 }];

/** The behaviour test's route (a 50 % canary), a canary taking every request, and two nginx refuses. */
const split: RoutePolicy = {
  canary: { backend: V2, weight: 50 },
  headers: { request: { 'X-Route': 'route', 'X-Both': 'route' }, response: { 'X-Route-Answer': 'route' }, responseRemove: ['x-hidden'] },
  backendHeaders: {
    [V1]: { request: { Backend: 'v1', 'X-Both': 'v1' }, requestAdd: { 'X-Added': 'v1' }, requestRemove: ['x-gone'], response: { 'X-From': 'v1', 'X-Route-Answer': 'v1 $1' } },
    [V2]: { request: { Backend: 'v2' }, responseAdd: { 'X-Also': 'v2' }, responseRemove: ['server-timing'], response: { 'X-Hidden': 'v2' } },
  },
};

function backendHeadersModel(): RoutingModel {
  return model({
    entryPoints: [entryPoint('web', 8000)],
    virtualHosts: [
      vhost('split.test', [
        { ...route('/app', 'Prefix', 'v1'), policy: split },
        { ...route('/fixed', 'Prefix', 'v1'), policy: { ...split, canary: { backend: V2, weight: 100 } } },
        { ...route('/forwarded', 'Prefix', 'v1'), policy: { canary: { backend: V2, weight: 50 }, backendHeaders: { [V1]: { request: { 'X-Forwarded-For': '10.0.0.9' } } } } },
        { ...route('/cookie', 'Prefix', 'v1'), policy: { canary: { backend: V2, weight: 50 }, backendHeaders: { [V2]: { responseRemove: ['set-cookie'] } } } },
      ]),
    ],
    backends: [backend('v1', ep('10.0.0.1')), backend('v2', ep('10.0.0.2'))],
  });
}

test('golden: nginx locations of routes with header changes by backend', () => {
  golden('nginx-backend-headers.txt', formatDryRun(renderNginx(backendHeadersModel(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx backend headers: each changed line by the upstream chosen, the other backend keeping the route\'s', () => {
  const { view, diagnostics } = buildNginxView(backendHeadersModel(), { workDir: WORK });
  const server = view.servers.find((s) => s.names.includes('split.test'));
  const loc = (p: string) => server?.locations.find((l) => l.path === p);
  const maps = Object.fromEntries(view.backendMaps.map((m) => [m.variable, [m.source, ...m.entries.map((e) => `${e.upstream}=${e.variable ? '$' : ''}${e.value}`)]]));
  const lines = (p: string) => loc(p)?.policy?.requestHeaders.map((h) => `${h.name}=${h.variable ? '$' : ''}${h.value}`);
  const rhValue = (variable: string) => view.responseValues[Number(variable.replace('pass_rh_', ''))];
  // The route's own lines first; the names a backend changes after them, one map per line.
  assert.deepEqual(lines('/app/'), ['X-Route=route', 'x-gone=$pass_bh_0', 'Backend=$pass_bh_1', 'X-Both=$pass_bh_2', 'X-Added=$http_x_added', 'X-Added=$pass_bh_3']);
  assert.deepEqual(maps['pass_bh_0'], ['pass_canary_0', 'be_default.v1_80=', 'be_default.v2_80=$http_x_gone'], 'removed for v1, the client\'s for v2');
  assert.deepEqual(maps['pass_bh_1'], ['pass_canary_0', 'be_default.v1_80=v1', 'be_default.v2_80=v2']);
  assert.deepEqual(maps['pass_bh_2'], ['pass_canary_0', 'be_default.v1_80=v1', 'be_default.v2_80=route'], 'v2 keeps the route\'s value');
  assert.deepEqual(maps['pass_bh_3'], ['pass_canary_0', 'be_default.v1_80=v1', 'be_default.v2_80='], 'the added line for v1 only');
  assert.equal(loc('/app/')?.policy?.replaces['x-gone'], true);
  // Answers: set (over the route's, or the upstream's own for the other), removed, added.
  const answer = Object.fromEntries((loc('/app/')?.policy?.responseHeaders ?? []).map((h) => [h.name, h.variable]));
  assert.deepEqual(answer, { 'X-Route-Answer': 'pass_bh_5', 'X-From': 'pass_bh_4', 'server-timing': 'pass_bh_6', 'X-Hidden': 'pass_bh_7' });
  assert.deepEqual(maps['pass_bh_4'], ['pass_canary_0', 'be_default.v1_80=$pass_rh_2', 'be_default.v2_80=$upstream_http_x_from']);
  assert.deepEqual(maps['pass_bh_5'], ['pass_canary_0', 'be_default.v1_80=$pass_rh_3', 'be_default.v2_80=$pass_rh_0']);
  assert.deepEqual(maps['pass_bh_6'], ['pass_canary_0', 'be_default.v1_80=$upstream_http_server_timing', 'be_default.v2_80='], 'removed for v2 only');
  assert.deepEqual(maps['pass_bh_7'], ['pass_canary_0', 'be_default.v1_80=', 'be_default.v2_80=$pass_rh_1'], 'the route removes it, v2 sets it');
  assert.deepEqual([rhValue('pass_rh_0'), rhValue('pass_rh_1'), rhValue('pass_rh_2'), rhValue('pass_rh_3')], ['route', 'v2', 'v1', 'v1 $1']);
  assert.deepEqual(loc('/app/')?.policy?.responseRemove, [], 'the route\'s removal is the map\'s value for v1');
  assert.deepEqual(loc('/app/')?.policy?.responseAdd, [{ name: 'X-Also', variable: 'pass_bh_7' }]);
  assert.equal(view.dollar, true);
  // A canary taking every request: v2's changes written as they are.
  assert.deepEqual(lines('/fixed/'), ['X-Route=route', 'X-Both=route', 'Backend=v2']);
  assert.deepEqual(loc('/fixed/')?.policy?.responseRemove, ['server-timing']);
  assert.deepEqual(loc('/fixed/')?.policy?.responseHeaders.map((h) => h.name), ['X-Route-Answer', 'X-Hidden']);
  assert.deepEqual(loc('/fixed/')?.policy?.responseAdd.map((h) => h.name), ['X-Also']);
  // What nginx cannot render answers 503.
  assert.equal(loc('/forwarded/')?.action.status, 503);
  assert.equal(loc('/cookie/')?.action.status, 503);
  assert.deepEqual(
    diagnostics.map((d) => [d.code, d.message.slice(0, 40)]),
    [
      ['PASS_POLICY_NOT_IN_MODE', 'a header change of a backend of this rou'],
      ['PASS_POLICY_NOT_IN_MODE', 'an answer header a backend of this route'],
    ],
  );
});

test('nginx backend headers: nginx -t accepts the rendering with and without the Lua balancer and headers-more', () => {
  const work = workWithDefaultCert('passerelle-backend-headers-');
  for (const lua of [null, LUA_MODULES]) {
    for (const more of [null, HEADERS_MORE_MODULE]) {
      const dir = path.join(work.dir, `${lua === null ? 'plain' : 'lua'}-${more === null ? 'add' : 'more'}`);
      const r = renderNginx(backendHeadersModel(), { workDir: dir, luaModules: lua, headersMoreModule: more });
      assert.match(r.main.content, /map \$pass_canary_0 \$pass_bh_7 \{\n/);
      checkRendering(r, dir, work, `${lua === null ? ' (without Lua' : ' (with Lua'}${more === null ? ')' : ', headers-more)'}`);
    }
  }
});

/*
 * The nginx Lua balancer in the rendering: endpoints leave the structure (so an endpoint-only change
 * needs no reload) and go to lua-endpoints.json as JSON data; the Lua text is constant, whatever the
 * model holds; least_conn variants keep their servers; gRPC locations name their upstream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, RoutingModel } from '../../src/model/types.ts';
import { LUA_ENDPOINTS_FILE, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';

const WORK = '/var/lib/passerelle';
const ep = (address: string, port = 8080, weight = 1): Endpoint => ({ address, port, weight });

const build = (endpoints: readonly Endpoint[], policy?: Record<string, unknown>): RoutingModel => {
  const r = route('/', 'Prefix', 'x');
  return model({
    entryPoints: [entryPoint('http', 8000)],
    virtualHosts: [vhost('lua.test', [policy === undefined ? r : { ...r, policy }])],
    backends: [backend('x', endpoints)],
  });
};

/** The text between `init_by_lua_block {` and the matching closing line. */
function luaText(conf: string): string {
  const start = conf.indexOf('init_by_lua_block {');
  const end = conf.indexOf('\n  }\n', start);
  assert.ok(start >= 0 && end > start, 'no init_by_lua_block');
  return conf.slice(start, end);
}

test('nginx Lua: an endpoint-only change keeps the structure; the endpoints go to the JSON file', () => {
  const one = renderNginx(build([ep('10.0.0.1')]), { workDir: WORK, luaModules: LUA_MODULES });
  const two = renderNginx(build([ep('10.0.0.2', 9090, 3), ep('fd00::1')]), { workDir: WORK, luaModules: LUA_MODULES });
  assert.equal(one.structure, two.structure);
  assert.notEqual(one.checksum, two.checksum);
  const file = two.files.find((f) => f.path === LUA_ENDPOINTS_FILE);
  assert.deepEqual(JSON.parse(file?.content ?? ''), {
    upstreams: { 'be_default.x_80': [{ host: '10.0.0.2', port: 9090, weight: 3 }, { host: 'fd00::1', port: 8080, weight: 1 }] },
  });
  assert.equal(one.main.content.split('\n').slice(1).join('\n'), two.main.content.split('\n').slice(1).join('\n'), 'the main file differs only in its checksum line');
  assert.match(two.main.content, /load_module "\/usr\/lib\/nginx\/modules\/ndk_http_module\.so";\nload_module "\/usr\/lib\/nginx\/modules\/ngx_http_lua_module\.so";/);
  assert.match(two.main.content, /listen "unix:\/var\/lib\/passerelle\/lua-admin\.sock";/);
  assert.doesNotMatch(two.main.content, /10\.0\.0\.2/);
  // Going to no endpoint at all is a structural change (the location answers 503 itself).
  assert.notEqual(renderNginx(build([]), { workDir: WORK, luaModules: LUA_MODULES }).structure, one.structure);
});

test('nginx Lua: without the modules nothing changes (endpoints in the upstream, structure is the checksum)', () => {
  const r = renderNginx(build([ep('10.0.0.1')]), { workDir: WORK });
  assert.equal(r.structure, r.checksum);
  assert.ok(!r.files.some((f) => f.path === LUA_ENDPOINTS_FILE));
  assert.match(r.main.content, /server 10\.0\.0\.1:8080 weight=1/);
  assert.doesNotMatch(r.main.content, /_by_lua|lua_shared_dict|ngx_http_lua_module|pass_upstream/);
});

test('nginx Lua: the Lua text is constant, whatever names and addresses the model holds', () => {
  const plain = renderNginx(build([ep('10.0.0.1')]), { workDir: WORK, luaModules: LUA_MODULES });
  const odd = model({
    entryPoints: [entryPoint('http', 8000)],
    virtualHosts: [vhost('x.test', [route('/")os.exit()--', 'Prefix', 'evil-name')])],
    backends: [backend('evil-name', [ep('10.9.9.9', 1)])],
  });
  const other = renderNginx(odd, { workDir: WORK, luaModules: LUA_MODULES });
  assert.equal(luaText(other.main.content), luaText(plain.main.content));
  assert.equal((other.main.content.match(/balancer_by_lua_block \{\n\s+require\("passerelle\.balancer"\)\.balance\(\)\n\s+\}/g) ?? []).length, 1);
});

test('nginx Lua: a least_conn variant keeps its servers (its endpoint change is structural); the base upstream is Lua', () => {
  const lc = { upstream: { loadBalance: 'least_conn' } };
  const one = renderNginx(build([ep('10.0.0.1')], lc), { workDir: WORK, luaModules: LUA_MODULES });
  const two = renderNginx(build([ep('10.0.0.2')], lc), { workDir: WORK, luaModules: LUA_MODULES });
  assert.notEqual(one.structure, two.structure);
  assert.match(one.main.content, /upstream be_default\.x_80__lc \{\n[^}]*least_conn;\n\s+server 10\.0\.0\.1:8080/);
});

test('nginx Lua: a gRPC location names its upstream for the balancer before its rewrite', () => {
  const r = renderNginx(build([ep('10.0.0.1')], { upstream: { protocol: 'grpc' } }), { workDir: WORK, luaModules: LUA_MODULES });
  assert.match(r.main.content, /set \$pass_upstream be_default\.x_80;\n(?:.*\n)*?\s+rewrite [^\n]* break;\n\s+grpc_pass grpc:\/\/be_default\.x_80;/);
  const off = renderNginx(build([ep('10.0.0.1')], { upstream: { protocol: 'grpc' } }), { workDir: WORK });
  assert.doesNotMatch(off.main.content, /pass_upstream/);
});

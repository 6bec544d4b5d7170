/*
 * Hosts served on some entry points only (VirtualHost.entryPoints) rendered for nginx: each entry
 * point's listen gets the server blocks of the hosts it serves, so that on another nginx falls through
 * to a less specific server_name (wildcard, suffix) or the default server (`*`, else the default
 * backend), as the reference modelForScope leaves the host out; compared with a golden render, and
 * accepted by `nginx -t` with and without the Lua balancer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { hostsOnEntryPoint } from '../../src/model/match.ts';
import type { RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { formatDryRun } from '../../src/render/dryrun.ts';
import { buildNginxView, LUA_MODULES, renderNginx } from '../../src/render/nginx/index.ts';
import { backend, entryPoint, model, route, vhost } from '../behaviour/harness.ts';
import { checkRendering, workWithDefaultCert } from '../integration/rendered.ts';
import { golden } from './golden.ts';

const WORK = '/var/lib/passerelle';
const ep = (address: string) => [{ address, port: 8080, weight: 1 }];
const on = (vh: VirtualHost, ...entryPoints: string[]): VirtualHost => ({ ...vh, entryPoints });
const suffix = (host: string, backendName: string): VirtualHost => ({ ...vhost(host, [route('/', 'Prefix', backendName)]), kind: 'suffix' });

function restrictedModel(): RoutingModel {
  const m = model({
    entryPoints: [entryPoint('http', 8000), entryPoint('other', 8001)],
    virtualHosts: [
      on(vhost('http-only.test', [route('/', 'Prefix', 'v2')]), 'http'),
      on(vhost('a.wild.test', [route('/', 'Prefix', 'v3')]), 'other'),
      vhost('both.test', [route('/', 'Prefix', 'v4')]),
      vhost('*.wild.test', [route('/', 'Prefix', 'v2')]),
      on(vhost('*.other.test', [route('/', 'Prefix', 'v3')]), 'other'),
      on(suffix('*.deep.test', 'v4'), 'http'),
      on(vhost('*', [route('/any', 'Prefix', 'v4')]), 'other'),
    ],
    backends: [backend('v1', ep('10.0.0.1')), backend('v2', ep('10.0.0.2')), backend('v3', ep('10.0.0.3')), backend('v4', ep('10.0.0.4'))],
    defaultBackend: 'v1',
  });
  // An address scope on `other`: its hosts are its own, whatever the model's are restricted to.
  return { ...m, addressScopes: [{ address: '127.0.0.9', entryPoint: 'other', virtualHosts: [vhost('scoped.test', [route('/', 'Prefix', 'v2')])] }] };
}

const nameOf = (v: VirtualHost): string => (v.kind === 'suffix' ? `*${v.host}` : v.host);

test('golden: nginx server blocks of hosts restricted to some entry points', () => {
  golden('nginx-entry-points.txt', formatDryRun(renderNginx(restrictedModel(), { workDir: WORK, headersMoreModule: null })));
});

test('nginx entry points: each listen names the hosts its entry point serves, as modelForScope', () => {
  const m = restrictedModel();
  const { view, diagnostics } = buildNginxView(m, { workDir: WORK });
  assert.deepEqual(diagnostics, []);
  for (const [name, port] of [['http', 8000], ['other', 8001]] as const) {
    const blocks = view.servers.filter((s) => s.listenHost === '127.0.0.1' && s.listenPort === port);
    const expected = hostsOnEntryPoint(m, name).filter((v) => v.kind !== 'any').map(nameOf);
    assert.deepEqual(blocks.flatMap((s) => s.names).sort(), [...expected].sort(), `server names on ${name}`);
    assert.equal(blocks.filter((s) => s.defaultServer).length, 1, `one default server on ${name}`);
  }
  const defaultOn = (port: number) => view.servers.find((s) => s.listenHost === '127.0.0.1' && s.listenPort === port && s.defaultServer);
  // `*` is served on `other` only: there its /any route, on `http` the default backend for every path.
  const paths = (port: number) => defaultOn(port)?.locations.map((l) => `${l.modifier} ${l.path} ${l.action.proxy ?? l.action.status}`);
  assert.deepEqual(paths(8001), ['= /any be_default.v4_80', '^~ /any/ be_default.v4_80', ' / be_default.v1_80'], 'the catch-all host on its entry point');
  assert.deepEqual(paths(8000), [' / be_default.v1_80'], 'no catch-all host elsewhere: the default backend');
  // The address scope's blocks are unchanged: its own host, and 404 for others (a Gateway's address).
  const scoped = view.servers.filter((s) => s.listenHost === '127.0.0.9');
  assert.deepEqual(scoped.map((s) => [s.listenPort, s.defaultServer, s.names]), [[8001, true, []], [8001, false, ['scoped.test']]]);
  // With a suffix host served on `http` only, its wildcards keep their own blocks in pattern order;
  // on `other`, without one, a wildcard shares the block of an exact host routed the same way.
  const names = (port: number) => view.servers.filter((s) => s.listenHost === '127.0.0.1' && s.listenPort === port && !s.defaultServer).map((s) => s.names);
  assert.deepEqual(names(8000), [['*.wild.test'], ['**.deep.test'], ['both.test'], ['http-only.test']]);
  assert.deepEqual(names(8001), [['*.other.test', 'a.wild.test'], ['*.wild.test'], ['both.test']]);
});

test('nginx entry points: hosts served on every entry point render as hosts without entryPoints', () => {
  const m = restrictedModel();
  const plain: RoutingModel = { ...m, virtualHosts: m.virtualHosts.map(({ entryPoints: _, ...v }) => v) };
  const everywhere: RoutingModel = { ...m, virtualHosts: plain.virtualHosts.map((v) => on(v, 'http', 'other')) };
  const render = (x: RoutingModel) => renderNginx(x, { workDir: WORK, headersMoreModule: null }).main.content;
  assert.equal(render(everywhere), render(plain));
  assert.notEqual(render(m), render(plain), 'the restrictions change the rendering');
});

test('nginx entry points: nginx -t accepts the rendering with and without the Lua balancer', () => {
  const work = workWithDefaultCert('passerelle-entry-points-');
  for (const lua of [null, LUA_MODULES]) {
    const dir = path.join(work.dir, lua === null ? 'plain' : 'lua');
    checkRendering(renderNginx(restrictedModel(), { workDir: dir, luaModules: lua }), dir, work, lua === null ? ' (without Lua)' : ' (with Lua)');
  }
});

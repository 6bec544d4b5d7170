/*
 * Route conditions (method, headers, query parameters), their fall-through, and suffix hosts, served by
 * a real HAProxy or nginx (test/integration/haproxy/conditions.test.ts, nginx/conditions.test.ts): every
 * request's expected backend is written out and checked against the model's own `resolveRequest` too,
 * then sent through the proxy (node:http, and raw sockets for repeated headers and odd header names).
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ProxyDriver } from '../../../src/drivers/types.ts';
import { resolveRequest } from '../../../src/model/match.ts';
import type { ConditionRequest } from '../../../src/model/match.ts';
import type { Route, RouteConditions, RoutingModel, VirtualHost } from '../../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, model, request, route, vhost } from '../../behaviour/harness.ts';
import { exchange, headerValues, isResponse, describe as describeRead, startRecorder } from '../../behaviour/raw.ts';
import { echoes } from './common.ts';

const c = (r: Route, conditions: RouteConditions): Route => ({ ...r, conditions });
const suffix = (v: VirtualHost): VirtualHost => ({ ...v, kind: 'suffix' });

/** Backends of the model, each an echo server answering its own name. */
export const IDS = ['main', 'exact', 'hdr', 'rx', 'q', 'qr', 'meth', 'under', 'wild', 'suffix', 'deep', 'other', 'fallback'] as const;

/** The backend of the header changes: a recorder of the exact lines it receives. */
const RECORDER = 'rec';

/** The model: `c.test` with conditional routes over fallbacks, `u.test` with a header name nginx drops, suffix and wildcard hosts. */
export function conditionsModel(port: number, endpoints: Readonly<Record<string, { address: string; port: number; weight: number }>>): RoutingModel {
  const c1 = vhost('c.test', [
    c(route('/', 'Prefix', 'hdr'), { headers: [{ name: 'x-env', type: 'Exact', value: 'canary "1" $x' }] }),
    c(route('/', 'Prefix', 'rx'), { method: 'POST', headers: [{ name: 'x-ver', type: 'RegularExpression', value: 'v[0-9]+' }] }),
    c(route('/api', 'Prefix', 'q'), { query: [{ name: 'Tier', type: 'Exact', value: 'gold+1' }] }),
    c(route('/api', 'Prefix', 'qr'), { query: [{ name: 'tier', type: 'RegularExpression', value: 's.*' }] }),
    c(route('/only', 'Exact', 'meth'), { method: 'PUT' }),
    // A value of a header sent on two lines, joined as native reads it.
    c(route('/join', 'Prefix', 'rx'), { headers: [{ name: 'x-j', type: 'Exact', value: 'a, b' }] }),
    // A value HAProxy would read as a flag without "--".
    c(route('/dash', 'Prefix', 'meth'), { headers: [{ name: 'x-d', type: 'Exact', value: '-i' }] }),
    route('/api/x', 'Exact', 'exact'),
    route('/', 'Prefix', 'main'),
  ]);
  // Conditional routes and no unconditional one: what fails them goes to the default backend.
  // Header changes: remove, set, add (one more line) on each side.
  const h = vhost('h.test', [
    {
      ...route('/', 'Prefix', 'rec'),
      policy: {
        headers: {
          requestRemove: ['x-drop'],
          request: { 'X-Set': 'one' },
          requestAdd: { 'X-Add': 'two $x "q"', 'X-Set': 'three', 'X-New': 'n' },
          responseRemove: ['x-recorder'],
          response: { 'X-Resp': 'r' },
          responseAdd: { 'X-Resp': 'b', 'X-More': 'm' },
        },
      },
    },
  ]);
  // One policy on the routes of one path (a Gateway API rule with several matches): shared by the chain.
  const same = { headers: { request: { 'X-A': 'b' } }, rewrite: { kind: 'strip-prefix' as const } };
  const sp = vhost('sp.test', [{ ...c(route('/api', 'Prefix', 'q'), { method: 'PUT' }), policy: same }, { ...route('/api', 'Prefix', 'main'), policy: same }, route('/', 'Prefix', 'other')]);
  const u = vhost('u.test', [c(route('/', 'Prefix', 'under'), { headers: [{ name: 'x_tenant', type: 'Exact', value: 'a' }] }), c(route('/', 'Prefix', 'other'), { headers: [{ name: 'x-tenant', type: 'Exact', value: 'b' }] })]);
  return model({
    entryPoints: [entryPoint('web', port)],
    virtualHosts: [c1, u, h, sp, vhost('*.s.test', [route('/', 'Prefix', 'wild')]), suffix(vhost('*.s.test', [route('/', 'Prefix', 'suffix')])), suffix(vhost('*.deep.s.test', [route('/', 'Prefix', 'deep')]))],
    backends: [...IDS, RECORDER].map((id) => backend(id, endpoints[id] === undefined ? [] : [endpoints[id]])),
    defaultBackend: 'fallback',
  });
}

interface Case {
  readonly host: string;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly expect: string;
}

/** What the model itself picks for a case (the contract every mode follows). */
function modelPick(m: RoutingModel, k: Case): string {
  const q = k.path.indexOf('?');
  const headers = Object.fromEntries(Object.entries(k.headers ?? {}).map(([n, v]) => [n.toLowerCase(), v]));
  const req: ConditionRequest = { method: k.method ?? 'GET', header: (n) => headers[n], query: q === -1 ? '' : k.path.slice(q + 1) };
  const r = resolveRequest(m, k.host, q === -1 ? k.path : k.path.slice(0, q), req);
  return r.outcome === 'not-found' ? '404' : (r.backend?.service ?? '503');
}

const CASES: readonly Case[] = [
  { host: 'c.test', path: '/', expect: 'main' },
  { host: 'c.test', path: '/a', headers: { 'X-Env': 'canary "1" $x' }, expect: 'hdr' },
  { host: 'c.test', path: '/a', headers: { 'X-Env': 'canary "1" $xy' }, expect: 'main' },
  { host: 'c.test', path: '/', method: 'POST', headers: { 'X-Ver': 'v12' }, expect: 'rx' },
  { host: 'c.test', path: '/', method: 'GET', headers: { 'X-Ver': 'v12' }, expect: 'main' },
  { host: 'c.test', path: '/', method: 'POST', headers: { 'X-Ver': 'v12x' }, expect: 'main' },
  { host: 'c.test', path: '/', method: 'POST', headers: { 'X-Ver': 'av1' }, expect: 'main' },
  { host: 'c.test', path: '/api?Tier=gold+1', expect: 'q' },
  { host: 'c.test', path: '/api/deep/er?a=1&Tier=gold+1&b', expect: 'q' },
  { host: 'c.test', path: '/api?Tier=gold%2B1', expect: 'main' },
  { host: 'c.test', path: '/api?tier=gold+1', expect: 'main' },
  { host: 'c.test', path: '/api?Tier=x&Tier=gold+1', expect: 'main' },
  { host: 'c.test', path: '/api?Tier&Tier=gold+1', expect: 'main' },
  { host: 'c.test', path: '/api?xTier=gold+1', expect: 'main' },
  { host: 'c.test', path: '/api?tier=silver', expect: 'qr' },
  { host: 'c.test', path: '/api?tier=', expect: 'main' },
  { host: 'c.test', path: '/apix?Tier=gold+1', expect: 'main' },
  { host: 'c.test', path: '/api/x?Tier=gold+1', expect: 'exact' },
  { host: 'c.test', path: '/api?Tier=gold+1', headers: { 'X-Env': 'canary "1" $x' }, expect: 'q' },
  { host: 'c.test', path: '/api/y', headers: { 'X-Env': 'canary "1" $x' }, expect: 'hdr' },
  { host: 'c.test', path: '/only', method: 'PUT', expect: 'meth' },
  { host: 'c.test', path: '/only', method: 'GET', expect: 'main' },
  { host: 'c.test', path: '/only/', method: 'PUT', expect: 'main' },
  { host: 'c.test', path: '/dash/a', headers: { 'X-D': '-i' }, expect: 'meth' },
  { host: 'c.test', path: '/dash/a', headers: { 'X-D': '-I' }, expect: 'main' },
  { host: 'c.test', path: '/dash/a', expect: 'main' },
  { host: 'a.s.test', path: '/', expect: 'wild' },
  { host: 'deep.s.test', path: '/', expect: 'wild' },
  { host: 'a.b.s.test', path: '/', expect: 'suffix' },
  { host: 'a.deep.s.test', path: '/', expect: 'deep' },
  { host: 'x.y.deep.s.test', path: '/', expect: 'deep' },
  { host: 's.test', path: '/', expect: 'fallback' },
];

/** Starts the upstreams, applies the model with `driver`, and checks every case and the raw ones. */
export async function checkConditions(t: TestContext, mode: 'haproxy' | 'nginx', driver: ProxyDriver, firstLineOnly = false): Promise<void> {
  t.after(() => driver.stop(500));
  const servers = await echoes(t, ...IDS);
  const port = await freePort();
  const recorder = await startRecorder(RECORDER, '127.0.0.1');
  t.after(() => recorder.close());
  const m = conditionsModel(port, { ...Object.fromEntries(servers.map((s) => [s.id, s.endpoint()])), [RECORDER]: recorder.endpoint() });
  await driver.apply(m);
  for (const k of CASES) {
    const what = `${k.method ?? 'GET'} ${k.host}${k.path} ${JSON.stringify(k.headers ?? {})}`;
    assert.equal(modelPick(m, k), k.expect, `the model itself: ${what}`);
    const r = await request({ port, host: k.host, path: k.path, method: k.method ?? 'GET', headers: { ...k.headers } });
    assert.equal(r.status, 200, `${mode}: ${what}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(echoOf(r).id, k.expect, `${mode}: ${what}`);
  }

  for (const [method, id] of [['PUT', 'q'], ['GET', 'main']] as const) {
    const e = echoOf(await request({ port, host: 'sp.test', path: '/api/x?y=1', method }));
    assert.deepEqual([e.id, e.url, e.headers['x-a']], [id, '/x?y=1', 'b'], `${mode}: ${method} sp.test/api/x`);
  }
  assert.equal(echoOf(await request({ port, host: 'sp.test', path: '/apix', method: 'PUT' })).id, 'other');

  // A header name with "_": HAProxy matches it as native does; nginx drops such headers, so that route
  // answers 503 in its place (declared limitation): requests that reach it go no further.
  const tenant = async (headers: Readonly<Record<string, string>>): Promise<string> => {
    const r = await request({ port, host: 'u.test', path: '/', headers });
    return r.status === 200 ? echoOf(r).id : String(r.status);
  };
  assert.equal(modelPick(m, { host: 'u.test', path: '/', headers: { x_tenant: 'a' }, expect: '' }), 'under');
  assert.equal(modelPick(m, { host: 'u.test', path: '/', headers: { 'x-tenant': 'b' }, expect: '' }), 'other');
  assert.equal(modelPick(m, { host: 'u.test', path: '/', headers: { 'x-tenant': 'c' }, expect: '' }), 'fallback');
  assert.deepEqual(
    [await tenant({ x_tenant: 'a' }), await tenant({ 'X-Tenant': 'b' }), await tenant({ 'X-Tenant': 'c' })],
    mode === 'haproxy' ? ['under', 'other', 'fallback'] : ['503', '503', '503'],
  );

  const raw = async (lines: readonly string[], target = '/x'): Promise<string> => {
    const res = await exchange(t, port, `GET ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    assert.ok(isResponse(res), describeRead(res));
    return res.status === 200 ? (JSON.parse(res.body.toString('utf8')) as { id: string }).id : String(res.status);
  };
  // A client's "X_Env" is not "X-Env": native reads it as x_env, HAProxy too, nginx drops it.
  assert.equal(await raw(['Host: c.test', 'X_Env: canary "1" $x']), 'main');
  // The header on two lines: native joins them ("v, v"), which is not the value; HAProxy and nginx join
  // them through Lua. Without the Lua module nginx 1.22 reads the first line only (declared limitation):
  // it takes the route.
  assert.equal(await raw(['Host: c.test', 'X-Env: canary "1" $x', 'X-Env: canary "1" $x']), firstLineOnly ? 'hdr' : 'main');
  assert.equal(await raw(['Host: c.test', 'X-Env: canary "1"', 'X-Env: $x']), 'main');
  const join = async (lines: readonly string[]): Promise<string> => raw(['Host: c.test', ...lines], '/join');
  assert.equal(await join(['X-J: a', 'X-J: b']), firstLineOnly ? 'main' : 'rx');
  assert.equal(await join(['X-J: a, b']), 'rx');
  assert.equal(await join(['X-J: a,b']), 'main');
  assert.equal(await raw(['Host: c.test', 'X-Env: other', 'X-Env: canary "1" $x']), 'main');
  // Two different Host lines are refused before any routing.
  assert.equal(await raw(['Host: c.test', 'Host: a.s.test', 'X-Env: canary "1" $x']), '400');
  // The header name's case does not matter, its value's does.
  assert.equal(await raw(['Host: c.test', 'x-ENV: canary "1" $x']), 'hdr');
  assert.equal(await raw(['Host: c.test', 'X-Env: CANARY "1" $x']), 'main');
  // A Host with a port and a trailing dot reaches the suffix host.
  assert.equal(await raw(['Host: A.B.S.test.:80']), 'suffix');

  // Header changes: what the backend receives (lines of one name joined with ",", as a Go reader
  // does) and what the client gets. nginx sends an added request header as one line "client,added".
  const sent = async (lines: readonly string[]): Promise<{ upstream: Readonly<Record<string, string | null>>; client: Readonly<Record<string, string | null>> }> => {
    recorder.reset();
    const res = await exchange(t, port, `GET /h HTTP/1.1\r\nHost: h.test\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`);
    assert.ok(isResponse(res), describeRead(res));
    assert.equal(res.status, 200, describeRead(res));
    const got = recorder.requests[0];
    assert.ok(got !== undefined);
    const joined = (list: readonly (readonly [string, string])[], n: string): string | null => (headerValues(list, n).length === 0 ? null : headerValues(list, n).join(','));
    return {
      upstream: Object.fromEntries(['x-drop', 'x-set', 'x-add', 'x-new'].map((n) => [n, joined(got.headers, n)])),
      client: Object.fromEntries(['x-recorder', 'x-resp', 'x-more'].map((n) => [n, joined(res.headers, n)])),
    };
  };
  const withClient = await sent(['X-Drop: 1', 'X-Set: client', 'X-Add: client']);
  assert.deepEqual(withClient.upstream, { 'x-drop': null, 'x-set': 'one,three', 'x-add': 'client,two $x "q"', 'x-new': 'n' }, mode);
  assert.deepEqual(withClient.client, { 'x-recorder': null, 'x-resp': 'r,b', 'x-more': 'm' }, mode);
  assert.deepEqual((await sent([])).upstream, { 'x-drop': null, 'x-set': 'one,three', 'x-add': 'two $x "q"', 'x-new': 'n' }, mode);
}

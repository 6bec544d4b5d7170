/*
 * Route conditions (Gateway API HTTPRoute method, header and query matches), suffix hosts and header
 * add/remove, as the proxy of the mode under test serves them: every request of the table is also
 * resolved by the model's reference resolver (resolveRequest with the request's method, headers and
 * query), and the proxy must answer from the backend it names. Header add/remove only where the mode
 * renders them (FEATURE_MODES), as translate gives them to it.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConditionRequest } from '../../src/model/match.ts';
import { requestPath, resolveRequest } from '../../src/model/match.ts';
import type { RoutePolicy } from '../../src/model/policy.ts';
import { FEATURE_MODES } from '../../src/model/policy-support.ts';
import type { PolicyFeature } from '../../src/model/policy-support.ts';
import type { Route, RouteConditions, RoutingModel } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';
import { mode } from './modes.ts';

const renders = (feature: PolicyFeature): boolean => (FEATURE_MODES[feature] as readonly string[]).includes(mode);

function when(r: Route, conditions: RouteConditions, policy?: RoutePolicy): Route {
  return { ...r, conditions, ...(policy === undefined ? {} : { policy }) };
}

const exact = (name: string, value: string) => ({ name, type: 'Exact' as const, value });
const regex = (name: string, value: string) => ({ name, type: 'RegularExpression' as const, value });

let http = 0;
let h: Harness | undefined;
let served: RoutingModel | undefined;

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3] = await h.echoes('v1', 'v2', 'v3');
  http = await freePort();
  const routes: Route[] = [
    when(route('/r', 'Prefix', 'v1'), { headers: [exact('version', 'one')] }),
    when(route('/r', 'Prefix', 'v2'), { method: 'POST' }),
    route('/r', 'Prefix', 'v3'),
    when(route('/r', 'Prefix', 'v1'), { headers: [exact('version', 'two'), exact('color', 'orange')] }),
    when(route('/q', 'Prefix', 'v1'), { query: [exact('animal', 'whale')] }),
    when(route('/q', 'Prefix', 'v2'), { query: [regex('id', '[0-9]+')] }),
    when(route('/q', 'Prefix', 'v3'), { headers: [regex('x-build', 'v[0-9]+|beta')] }),
    when(route('/exact', 'Exact', 'v2'), { method: 'GET', query: [exact('a', 'b')] }),
    route('/exact', 'Exact', 'v3'),
  ];
  const headerPolicy: RoutePolicy = {
    headers: {
      request: { 'X-Set': 'set' },
      response: { 'X-Set': 'set' },
      ...(renders('headers.requestAdd') ? { requestAdd: { 'X-Add': 'added' } } : {}),
      ...(renders('headers.requestRemove') ? { requestRemove: ['x-remove'] } : {}),
      ...(renders('headers.responseAdd') ? { responseAdd: { 'X-Add': 'added' } } : {}),
      ...(renders('headers.responseRemove') ? { responseRemove: ['content-type'] } : {}),
    },
  };
  served = model({
    entryPoints: [entryPoint('http', http)],
    virtualHosts: [
      vhost('match.test', routes),
      vhost('mod.test', [{ ...route('/', 'Prefix', 'v1'), policy: headerPolicy }]),
      { ...vhost('*.deep.test', [route('/', 'Prefix', 'v2')]), kind: 'suffix' },
      { ...vhost('*.a.deep.test', [route('/', 'Prefix', 'v3')]), kind: 'suffix' },
      vhost('*.one.test', [route('/', 'Prefix', 'v1')]),
    ],
    backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()])],
  });
  await h.apply(served);
});

after(async () => {
  await h?.close();
});

interface Ask {
  readonly method?: string;
  readonly host?: string;
  readonly target: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Who the reference resolver says answers (an echo id, or 404). */
function expected(a: Ask): string {
  const path = requestPath(a.target);
  const headers = new Map(Object.entries(a.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const req: ConditionRequest = { method: a.method ?? 'GET', header: (n) => headers.get(n), query: a.target.length > path.length ? a.target.slice(path.length + 1) : '' };
  const res = resolveRequest(served!, a.host ?? 'match.test', path, req);
  return res.outcome === 'route' ? (res.backend?.service ?? '?') : '404';
}

async function answered(a: Ask): Promise<string> {
  const r = await request({ port: http, host: a.host ?? 'match.test', path: a.target, ...(a.method === undefined ? {} : { method: a.method }), ...(a.headers === undefined ? {} : { headers: a.headers }) });
  return r.status === 200 ? echoOf(r).id : String(r.status);
}

const table: readonly [name: string, ask: Ask, who: string][] = [
  ['header-match', { target: '/r', headers: { Version: 'one' } }, 'v1'],
  ['method-beats-two-headers', { target: '/r', method: 'POST', headers: { version: 'two', color: 'orange' } }, 'v2'],
  ['two-headers', { target: '/r/x', headers: { version: 'two', color: 'orange' } }, 'v1'],
  ['method-beats-header', { target: '/r', method: 'POST', headers: { version: 'one' } }, 'v2'],
  ['falls-through-to-plain', { target: '/r', headers: { version: 'three' } }, 'v3'],
  ['query-exact', { target: '/q?animal=whale' }, 'v1'],
  ['query-exact-case-sensitive', { target: '/q?animal=WHALE' }, '404'],
  ['query-first-value', { target: '/q?animal=dog&animal=whale' }, '404'],
  ['query-name-case-sensitive', { target: '/q?ANIMAL=whale' }, '404'],
  ['query-name-not-a-suffix', { target: '/q?xanimal=whale' }, '404'],
  ['query-after-other-params', { target: '/q?a=1&animal=whale&b' }, 'v1'],
  ['query-value-raw-not-decoded', { target: '/q?animal=wh%61le' }, '404'],
  ['query-regex-whole-value', { target: '/q?x=&id=12' }, 'v2'],
  ['query-regex-not-partial', { target: '/q?id=12b' }, '404'],
  ['header-regex-beats-query', { target: '/q?animal=whale', headers: { 'x-build': 'beta' } }, 'v3'],
  ['header-regex-whole-value', { target: '/q', headers: { 'x-build': 'v1x' } }, '404'],
  ['exact-path-with-conditions', { target: '/exact?a=b' }, 'v2'],
  ['exact-path-falls-through', { target: '/exact?a=c' }, 'v3'],
  ['exact-path-method-fails', { target: '/exact?a=b', method: 'PUT' }, 'v3'],
  ['suffix-one-label', { host: 'x.deep.test', target: '/' }, 'v2'],
  ['suffix-several-labels', { host: 'z.y.x.deep.test', target: '/' }, 'v2'],
  ['suffix-most-specific', { host: 'z.y.a.deep.test', target: '/' }, 'v3'],
  ['suffix-not-the-domain', { host: 'deep.test', target: '/' }, '404'],
  ['wildcard-one-label-only', { host: 'b.a.one.test', target: '/' }, '404'],
  ['wildcard-one-label', { host: 'a.one.test', target: '/' }, 'v1'],
];

for (const [name, ask, who] of table) {
  test(`route conditions: ${name}`, async () => {
    assert.equal(expected(ask), who, 'the reference resolver');
    assert.equal(await answered(ask), who, `the ${mode} proxy`);
  });
}

test('route conditions: a header sent on two lines is matched as its values joined with ", " (RFC 9110 5.3)', async () => {
  const r = await request({ port: http, host: 'match.test', path: '/r', headers: { version: ['one', 'two'] } });
  assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), 'v3', 'neither "one" nor "two" alone: the plain route');
});

test('header policy: set, and add and remove where the mode renders them, on the request and the answer', async () => {
  const r = await request({ port: http, host: 'mod.test', path: '/', headers: { 'x-set': 'client', 'x-add': 'client', 'x-remove': 'gone' } });
  const seen = echoOf(r).headers;
  assert.equal(seen['x-set'], 'set');
  assert.equal(seen['x-add'], renders('headers.requestAdd') ? 'client, added' : 'client');
  assert.equal(seen['x-remove'], renders('headers.requestRemove') ? undefined : 'gone');
  assert.equal(r.headers['x-set'], 'set');
  assert.equal(r.headers['x-add'], renders('headers.responseAdd') ? 'added' : undefined);
  assert.equal(r.headers['content-type'], renders('headers.responseRemove') ? undefined : 'application/json');
});

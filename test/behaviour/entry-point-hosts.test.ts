/*
 * Hosts served on some entry points only (`VirtualHost.entryPoints`: a Gateway API host on the shared
 * address is served only on its listeners' ports), as the proxy of the mode under test serves them: on
 * another entry point the host is not there, so a less specific host (wildcard, suffix, `*`) or the
 * default backend answers, as if it had never been written. Every answer is also the reference
 * resolver's (resolveRequest of modelForScope).
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { modelForScope, resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel, VirtualHost } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

let http = 0;
let other = 0;
let h: Harness | undefined;
let served: RoutingModel | undefined;

const on = (vh: VirtualHost, ...entryPoints: string[]): VirtualHost => ({ ...vh, entryPoints });

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3, v4] = await h.echoes('v1', 'v2', 'v3', 'v4');
  http = await freePort();
  other = await freePort();
  served = model({
    entryPoints: [entryPoint('http', http), entryPoint('other', other)],
    virtualHosts: [
      on(vhost('http-only.test', [route('/', 'Prefix', 'v2')]), 'http'),
      on(vhost('a.wild.test', [route('/', 'Prefix', 'v3')]), 'other'),
      vhost('both.test', [route('/', 'Prefix', 'v4')]),
      vhost('*.wild.test', [route('/', 'Prefix', 'v2')]),
      on(vhost('*.other.test', [route('/', 'Prefix', 'v3')]), 'other'),
      on(vhost('*', [route('/any', 'Prefix', 'v4')]), 'other'),
    ],
    backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()]), backend('v4', [v4!.endpoint()])],
    defaultBackend: 'v1',
  });
  await h.apply(served);
});

after(async () => {
  await h?.close();
});

const table: readonly [name: string, entry: 'http' | 'other', host: string, path: string, who: string][] = [
  ['restricted-host-on-its-entry-point', 'http', 'http-only.test', '/x', 'v2'],
  ['restricted-host-elsewhere-is-the-default-backend', 'other', 'http-only.test', '/x', 'v1'],
  ['unrestricted-host-on-both', 'http', 'both.test', '/', 'v4'],
  ['unrestricted-host-on-both-other', 'other', 'both.test', '/', 'v4'],
  ['exact-restricted-falls-to-the-wildcard', 'http', 'a.wild.test', '/', 'v2'],
  ['exact-restricted-on-its-entry-point', 'other', 'a.wild.test', '/', 'v3'],
  ['wildcard-unrestricted', 'other', 'b.wild.test', '/', 'v2'],
  ['restricted-wildcard-on-its-entry-point', 'other', 'x.other.test', '/', 'v3'],
  ['restricted-wildcard-elsewhere', 'http', 'x.other.test', '/', 'v1'],
  ['restricted-catch-all-on-its-entry-point', 'other', 'nowhere.test', '/any/thing', 'v4'],
  ['restricted-catch-all-elsewhere', 'http', 'nowhere.test', '/any/thing', 'v1'],
  ['restricted-catch-all-path-miss-is-the-default-backend', 'other', 'nowhere.test', '/else', 'v1'],
  ['host-with-port-restricted-elsewhere', 'other', 'http-only.test:80', '/', 'v1'],
];

for (const [name, entry, host, path, who] of table) {
  test(`entry point hosts: ${name}`, async () => {
    const ref = resolveRequest(modelForScope(served!, undefined, entry), host, path);
    assert.equal(ref.outcome === 'not-found' ? '404' : (ref.backend?.service ?? '?'), who, 'the reference resolver agrees with the table');
    const r = await request({ address: '127.0.0.1', port: entry === 'http' ? http : other, host, path });
    assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), who);
  });
}

test('entry point hosts: a model change moving a host to the other entry point is served at once', async () => {
  const moved: RoutingModel = { ...served!, virtualHosts: served!.virtualHosts.map((v) => (v.host === 'http-only.test' ? { ...v, entryPoints: ['other'] } : v)) };
  await h!.apply(moved);
  try {
    const onOther = await request({ address: '127.0.0.1', port: other, host: 'http-only.test', path: '/' });
    assert.equal(onOther.status === 200 ? echoOf(onOther).id : String(onOther.status), 'v2');
    const onHttp = await request({ address: '127.0.0.1', port: http, host: 'http-only.test', path: '/' });
    assert.equal(onHttp.status === 200 ? echoOf(onHttp).id : String(onHttp.status), 'v1');
  } finally {
    await h!.apply(served!);
  }
});

test('entry point hosts: a Host naming another entry point in a key suffix is refused, never routed to a host restricted elsewhere', async () => {
  for (const host of ['http-only.test@@http@', 'http-only.test@@http@:80']) {
    const r = await request({ address: '127.0.0.1', port: other, host, path: '/' });
    assert.equal(r.status, 400, host);
  }
});

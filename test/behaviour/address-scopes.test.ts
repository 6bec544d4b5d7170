/*
 * Address scopes (Gateways with an address of their own, `[kubernetes] gatewayAddressPool`), as the
 * proxy of the mode under test serves them: the entry point listens on 127.0.0.1 and the proxy also
 * on each scope's address at the same port; a connection to a scope's address sees only its hosts
 * (no default backend), any other connection the model's own. Every answer is also the reference
 * resolver's (resolveRequest of modelForAddress).
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { modelForAddress, resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

// Outside the echo servers' 127.0.0.2–20.
const FIRST = '127.0.0.31';
const SECOND = '127.0.0.32';

let http = 0;
let h: Harness | undefined;
let served: RoutingModel | undefined;

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3] = await h.echoes('v1', 'v2', 'v3');
  http = await freePort();
  const base = model({
    entryPoints: [entryPoint('http', http)],
    virtualHosts: [vhost('*', [route('/', 'Prefix', 'v1')]), vhost('own.test', [route('/', 'Prefix', 'v3')])],
    backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()])],
    defaultBackend: 'v1',
  });
  served = {
    ...base,
    addressScopes: [
      { address: FIRST, virtualHosts: [vhost('a.test', [route('/', 'Prefix', 'v3')]), vhost('*', [route('/shared', 'Prefix', 'v1'), route('/', 'Prefix', 'v2')])] },
      { address: SECOND, virtualHosts: [vhost('*', [route('/shared', 'Prefix', 'v1')])] },
    ],
  };
  await h.apply(served);
});

after(async () => {
  await h?.close();
});

const table: readonly [name: string, address: string, host: string, path: string, who: string][] = [
  ['entry-point-address-catch-all', '127.0.0.1', 'x.test', '/', 'v1'],
  ['entry-point-address-own-host', '127.0.0.1', 'own.test', '/', 'v3'],
  ['entry-point-address-not-the-scope-host', '127.0.0.1', 'a.test', '/', 'v1'],
  ['first-scope-catch-all', FIRST, 'x.test', '/', 'v2'],
  ['first-scope-host', FIRST, 'a.test', '/any', 'v3'],
  ['first-scope-shared', FIRST, 'x.test', '/shared/x', 'v1'],
  ['first-scope-not-the-model-host', FIRST, 'own.test', '/', 'v2'],
  ['second-scope-shared', SECOND, 'x.test', '/shared', 'v1'],
  ['second-scope-no-default-backend', SECOND, 'x.test', '/other', '404'],
  ['second-scope-ip-host', SECOND, SECOND, '/shared', 'v1'],
];

for (const [name, address, host, path, who] of table) {
  test(`address scopes: ${name}`, async () => {
    const ref = resolveRequest(modelForAddress(served!, address), host, path);
    assert.equal(ref.outcome === 'not-found' ? '404' : (ref.backend?.service ?? '?'), who, 'the reference resolver agrees with the table');
    const r = await request({ address, port: http, host, path });
    assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), who);
  });
}

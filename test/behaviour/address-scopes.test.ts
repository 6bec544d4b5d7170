/*
 * Address scopes (Gateways with an address of their own, `[kubernetes] gatewayAddressPool`), as the
 * proxy of the mode under test serves them: the entry points listen on 127.0.0.1 and the proxy also
 * on each scope's address at its entry point's port; a connection to a scope's address sees only the
 * hosts of its scope on that entry point (none on an entry point the address has no scope for; no
 * default backend), any other connection the model's own. Every answer is also the reference
 * resolver's (resolveRequest of modelForScope).
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { modelForScope, resolveRequest } from '../../src/model/match.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

// Outside the echo servers' 127.0.0.2–20.
const FIRST = '127.0.0.31';
const SECOND = '127.0.0.32';

let http = 0;
let other = 0;
let h: Harness | undefined;
let served: RoutingModel | undefined;

before(async () => {
  h = await Harness.start();
  const [v1, v2, v3] = await h.echoes('v1', 'v2', 'v3');
  http = await freePort();
  other = await freePort();
  const base = model({
    entryPoints: [entryPoint('http', http), entryPoint('other', other)],
    virtualHosts: [vhost('*', [route('/', 'Prefix', 'v1')]), vhost('own.test', [route('/', 'Prefix', 'v3')])],
    backends: [backend('v1', [v1!.endpoint()]), backend('v2', [v2!.endpoint()]), backend('v3', [v3!.endpoint()])],
    defaultBackend: 'v1',
  });
  served = {
    ...base,
    addressScopes: [
      { address: FIRST, entryPoint: 'http', virtualHosts: [vhost('a.test', [route('/', 'Prefix', 'v3')]), vhost('*', [route('/shared', 'Prefix', 'v1'), route('/', 'Prefix', 'v2')])] },
      { address: FIRST, entryPoint: 'other', virtualHosts: [vhost('a.test', [route('/', 'Prefix', 'v1')])] },
      { address: SECOND, entryPoint: 'http', virtualHosts: [vhost('*', [route('/shared', 'Prefix', 'v1')])] },
    ],
  };
  await h.apply(served);
});

after(async () => {
  await h?.close();
});

const table: readonly [name: string, address: string, entry: 'http' | 'other', host: string, path: string, who: string][] = [
  ['entry-point-address-catch-all', '127.0.0.1', 'http', 'x.test', '/', 'v1'],
  ['entry-point-address-own-host', '127.0.0.1', 'http', 'own.test', '/', 'v3'],
  ['entry-point-address-not-the-scope-host', '127.0.0.1', 'http', 'a.test', '/', 'v1'],
  ['entry-point-address-other-port', '127.0.0.1', 'other', 'own.test', '/', 'v3'],
  ['first-scope-catch-all', FIRST, 'http', 'x.test', '/', 'v2'],
  ['first-scope-host', FIRST, 'http', 'a.test', '/any', 'v3'],
  ['first-scope-shared', FIRST, 'http', 'x.test', '/shared/x', 'v1'],
  ['first-scope-not-the-model-host', FIRST, 'http', 'own.test', '/', 'v2'],
  ['first-scope-other-port-own-host', FIRST, 'other', 'a.test', '/any', 'v1'],
  ['first-scope-other-port-no-catch-all', FIRST, 'other', 'x.test', '/', '404'],
  ['second-scope-shared', SECOND, 'http', 'x.test', '/shared', 'v1'],
  ['second-scope-no-default-backend', SECOND, 'http', 'x.test', '/other', '404'],
  ['second-scope-ip-host', SECOND, 'http', SECOND, '/shared', 'v1'],
  // Nothing listens there (the entry point is bound to 127.0.0.1 and the address has no scope on it).
  ['second-address-without-scope-on-the-port', SECOND, 'other', 'x.test', '/shared', 'refused'],
];

for (const [name, address, entry, host, path, who] of table) {
  test(`address scopes: ${name}`, async () => {
    const ref = resolveRequest(modelForScope(served!, address, entry), host, path);
    assert.equal(ref.outcome === 'not-found' ? '404' : (ref.backend?.service ?? '?'), who === 'refused' ? '404' : who, 'the reference resolver agrees with the table');
    const port = entry === 'http' ? http : other;
    if (who === 'refused') {
      await assert.rejects(request({ address, port, host, path }), /ECONNREFUSED/);
      return;
    }
    const r = await request({ address, port, host, path });
    assert.equal(r.status === 200 ? echoOf(r).id : String(r.status), who);
  });
}

/*
 * Redirects to the request's own URL with parts replaced (the model's wwwRedirect: from-to-www-redirect
 * and the Gateway API RequestRedirect filter's scheme, hostname, port, path and status), as the proxy of
 * the mode under test answers them: every Location must be what src/model/redirect.ts `redirectParts`
 * gives (through the native proxy's `wwwLocation`), with the path the route's rewrite gives
 * (src/model/rewrite.ts `rewrittenPath`, the request's own without one) and the query kept.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { wwwLocation } from '../../src/drivers/native/policy.ts';
import { rewrittenPath } from '../../src/model/rewrite.ts';
import type { WwwRedirectPolicy } from '../../src/model/policy.ts';
import type { Route } from '../../src/model/types.ts';
import { backend, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';

const HOST = 'redirect.test';
const cases: readonly [name: string, policy: WwwRedirectPolicy][] = [
  ['same-url-303', { status: 303 }],
  ['same-url-307', { status: 307 }],
  ['same-url-308', { status: 308 }],
  ['scheme-https', { scheme: 'https', status: 302 }],
  ['scheme-and-host', { scheme: 'https', host: 'example.org', status: 301 }],
  ['port', { port: 8083, status: 302 }],
  ['port-80-left-out', { port: 80, status: 302 }],
  ['port-and-host', { port: 8083, host: 'example.org', status: 302 }],
  ['scheme-https-port-8443', { scheme: 'https', port: 8443, status: 302 }],
  ['host-keeps-listener-port', { host: 'www.redirect.test', status: 308 }],
  ['full-path', { path: { kind: 'replace-path', path: '/elsewhere' }, status: 302 }],
  ['prefix-path', { path: { kind: 'prefix', target: '/new' }, status: 302 }],
  ['prefix-path-to-root', { path: { kind: 'prefix', target: '/' }, host: 'example.org', status: 301 }],
];
// Each case's route is `/NAME`; the requests: the route's own path, one below it, with and without a query.
const targets = (name: string): string[] => [`/${name}`, `/${name}?c=1`, `/${name}/a/b?c=1&d=%20`, `/${name}/a/`];

let http = 0;
let h: Harness | undefined;

before(async () => {
  h = await Harness.start();
  const [site] = await h.echoes('site');
  http = await freePort();
  const routes: Route[] = cases.map(([name, policy]) => ({ ...route(`/${name}`, 'Prefix', 'site'), policy: { wwwRedirect: policy } }));
  await h.apply(model({ entryPoints: [entryPoint('http', http)], virtualHosts: [vhost(HOST, routes)], backends: [backend('site', [site!.endpoint()])] }));
});

after(async () => {
  await h?.close();
});

for (const [name, policy] of cases) {
  test(`redirect: ${name}`, async () => {
    for (const target of targets(name)) {
      const r = await request({ port: http, host: `${HOST.toUpperCase()}:${http}`, path: target });
      assert.equal(r.status, policy.status, target);
      const path = target.split('?')[0] ?? target;
      const rewritten = policy.path === undefined ? path : (rewrittenPath(policy.path, { path: `/${name}`, pathType: 'Prefix' }, path) ?? path);
      assert.equal(r.headers.location, wwwLocation(policy, { tls: false, publicPort: http, host: HOST, target: rewritten + target.slice(path.length) }), target);
    }
  });
}

/*
 * The Gateway API CORS filter's additions to the cors policy, as the proxy of the mode under test
 * serves them: origin patterns (`https://*.domain`, one or more labels), any origin answered by name
 * when credentials are allowed, `*` methods and headers answered as the preflight asks, and exposed
 * headers on every CORS answer.
 */

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { backend, echoOf, entryPoint, freePort, Harness, model, request, route, vhost } from './harness.ts';
import { CORS_ANY, CORS_LISTED, CORS_STAR } from '../cors-policies.ts';

let http = 0;
let h: Harness | undefined;

const LISTED = CORS_LISTED;
const ANY = CORS_ANY;
const STAR = CORS_STAR;

before(async () => {
  h = await Harness.start();
  const [v1] = await h.echoes('v1');
  http = await freePort();
  await h.apply(
    model({
      entryPoints: [entryPoint('http', http)],
      virtualHosts: [
        vhost('cors.test', [
          { ...route('/listed', 'Prefix', 'v1'), policy: { cors: LISTED } },
          { ...route('/any', 'Prefix', 'v1'), policy: { cors: ANY } },
          { ...route('/star', 'Prefix', 'v1'), policy: { cors: STAR } },
        ]),
      ],
      backends: [backend('v1', [v1!.endpoint()])],
    }),
  );
});

after(async () => {
  await h?.close();
});

/** A header's value with the spaces of a list left out (`a, b` and `a,b` are the same list). */
function list(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v.replace(/\s+/g, '') : v === undefined ? undefined : v.join(',').replace(/\s+/g, '');
}

function preflight(path: string, origin: string, method: string, asked?: string) {
  return request({ port: http, host: 'cors.test', path, method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, ...(asked === undefined ? {} : { 'access-control-request-headers': asked }) } });
}

test('a preflight from a listed origin gets the listed methods and headers, max age, credentials and exposed headers', async () => {
  const r = await preflight('/listed', 'https://www.foo.test', 'GET', 'x-h1');
  assert.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
  assert.equal(r.headers['access-control-allow-origin'], 'https://www.foo.test');
  assert.equal(list(r.headers, 'access-control-allow-methods'), 'GET,OPTIONS');
  assert.equal(list(r.headers, 'access-control-allow-headers'), 'x-h1');
  assert.equal(r.headers['access-control-max-age'], '3600');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  assert.equal(list(r.headers, 'access-control-expose-headers'), 'x-h3,x-h4');
});

test('an origin pattern matches one or more labels, not the domain itself', async () => {
  for (const origin of ['https://a.bar.test', 'https://a.b.bar.test']) {
    const r = await preflight('/listed', origin, 'GET');
    assert.equal(r.headers['access-control-allow-origin'], origin, origin);
  }
  for (const origin of ['https://bar.test', 'http://a.bar.test', 'https://a.bar.test.evil', 'https://a.bar.test:8443']) {
    const r = await preflight('/listed', origin, 'GET');
    assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
  }
});

test('an answer from the backend to an allowed origin carries the exposed headers and credentials', async () => {
  const r = await request({ port: http, host: 'cors.test', path: '/listed/x', headers: { origin: 'https://x.bar.test' } });
  assert.equal(echoOf(r).id, 'v1');
  assert.equal(r.headers['access-control-allow-origin'], 'https://x.bar.test');
  assert.equal(list(r.headers, 'access-control-expose-headers'), 'x-h3,x-h4');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
});

test('any origin with credentials is answered by name, and * methods and headers as the preflight asks', async () => {
  const r = await preflight('/any', 'https://o.test', 'PUT', 'x-a, x-b');
  assert.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
  assert.equal(r.headers['access-control-allow-origin'], 'https://o.test');
  assert.equal(r.headers['access-control-allow-methods'], 'PUT');
  assert.equal(list(r.headers, 'access-control-allow-headers'), 'x-a,x-b');
  assert.equal(r.headers['access-control-allow-credentials'], 'true');
  const g = await request({ port: http, host: 'cors.test', path: '/any/x', headers: { origin: 'https://p.test' } });
  assert.equal(echoOf(g).id, 'v1');
  assert.equal(g.headers['access-control-allow-origin'], 'https://p.test');
});

test('any origin without credentials is answered *', async () => {
  const r = await request({ port: http, host: 'cors.test', path: '/star/x', headers: { origin: 'https://p.test' } });
  assert.equal(echoOf(r).id, 'v1');
  assert.equal(r.headers['access-control-allow-origin'], '*');
  assert.equal(r.headers['access-control-allow-credentials'], undefined);
});

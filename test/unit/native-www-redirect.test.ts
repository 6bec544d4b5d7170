import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicAuthCache } from '../../src/drivers/native/middlewares.ts';
import { compilePolicy, runPolicy, wwwLocation } from '../../src/drivers/native/policy.ts';
import type { PolicyRequest } from '../../src/drivers/native/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';

const MODEL: RoutingModel = { entryPoints: [], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };
const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ tls: false, host: 'www.a.test', path: '/p', target: '/p?q=1', client: '192.0.2.9', authorization: undefined, contentLength: undefined, method: 'GET', origin: undefined, ...over });

test('wwwLocation: the same scheme on the host, the public port unless the scheme default, the path and query kept', () => {
  assert.equal(wwwLocation('a.test', false, 80, '/x?y=1'), 'http://a.test/x?y=1');
  assert.equal(wwwLocation('a.test', true, 443, '/x?y=1'), 'https://a.test/x?y=1');
  assert.equal(wwwLocation('www.a.test', false, 8080, '/'), 'http://www.a.test:8080/');
  assert.equal(wwwLocation('a.test', true, 8443, '/x'), 'https://a.test:8443/x');
  assert.equal(wwwLocation('a.test', true, undefined, '/x'), 'https://a.test/x');
});

test('runPolicy wwwRedirect: every request of the route, any method, gets its status and Location', () => {
  const p = compilePolicy({ wwwRedirect: { host: 'a.test', status: 308 } }, MODEL);
  const cache = new BasicAuthCache();
  for (const method of ['GET', 'POST', 'OPTIONS']) {
    const v = runPolicy(p, req({ method, tls: true, publicPort: 443, origin: 'https://o.test' }), cache);
    assert.equal(v?.status, 308);
    assert.equal(v?.headers.location, 'https://a.test/p?q=1');
  }
  assert.equal(runPolicy(p, req({ publicPort: 8000 }), cache)?.headers.location, 'http://a.test:8000/p?q=1');
  // A denied route stays denied.
  assert.equal(runPolicy(compilePolicy({ wwwRedirect: { host: 'a.test', status: 308 }, denied: 'x' }, MODEL), req(), cache)?.status, 503);
});

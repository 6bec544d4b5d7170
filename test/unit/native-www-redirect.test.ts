import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicAuthCache } from '../../src/drivers/native/middlewares.ts';
import { compilePolicy, runPolicy, wwwLocation } from '../../src/drivers/native/policy.ts';
import type { PolicyRequest } from '../../src/drivers/native/policy.ts';
import type { RoutingModel } from '../../src/model/types.ts';
import type { WwwRedirectPolicy } from '../../src/model/policy.ts';

const MODEL: RoutingModel = { entryPoints: [], virtualHosts: [], backends: {}, certificates: [], diagnostics: [] };
const req = (over: Partial<PolicyRequest> = {}): PolicyRequest => ({ tls: false, host: 'www.a.test', path: '/p', target: '/p?q=1', client: '192.0.2.9', authorization: undefined, contentLength: undefined, method: 'GET', origin: undefined, ...over });

test('wwwLocation: the same scheme on the host, the public port unless the scheme default, the path and query kept', () => {
  const at = (host: string, tls: boolean, publicPort: number | undefined, target: string): string => wwwLocation({ host, status: 308 }, { tls, host: 'req.test:1234', target, ...(publicPort === undefined ? {} : { publicPort }) });
  assert.equal(at('a.test', false, 80, '/x?y=1'), 'http://a.test/x?y=1');
  assert.equal(at('a.test', true, 443, '/x?y=1'), 'https://a.test/x?y=1');
  assert.equal(at('www.a.test', false, 8080, '/'), 'http://www.a.test:8080/');
  assert.equal(at('a.test', true, 8443, '/x'), 'https://a.test:8443/x');
  assert.equal(at('a.test', true, undefined, '/x'), 'https://a.test/x');
});

// The Gateway API's RequestRedirect rules (its conformance tests HTTPRouteRedirectScheme, -Port, -PortAndScheme, -HostAndStatus).
const gatewayCases: readonly [name: string, policy: Omit<WwwRedirectPolicy, 'status'>, tls: boolean, publicPort: number, location: string][] = [
  ['nothing-set-same-url', {}, false, 80, 'http://req.test/p?q'],
  ['nothing-set-keeps-listener-port', {}, false, 8080, 'http://req.test:8080/p?q'],
  ['scheme-https-default-port', { scheme: 'https' }, false, 80, 'https://req.test/p?q'],
  ['scheme-http-from-tls', { scheme: 'http' }, true, 443, 'http://req.test/p?q'],
  ['scheme-and-host', { scheme: 'https', host: 'example.org' }, false, 8080, 'https://example.org/p?q'],
  ['port-only-same-scheme', { port: 8083 }, false, 80, 'http://req.test:8083/p?q'],
  ['port-80-on-http-left-out', { port: 80 }, false, 8080, 'http://req.test/p?q'],
  ['port-443-on-http-kept', { port: 443 }, false, 80, 'http://req.test:443/p?q'],
  ['scheme-https-port-443-left-out', { scheme: 'https', port: 443 }, false, 80, 'https://req.test/p?q'],
  ['scheme-https-port-8443', { scheme: 'https', port: 8443 }, false, 80, 'https://req.test:8443/p?q'],
  ['host-only-keeps-listener-port', { host: 'example.org' }, true, 8443, 'https://example.org:8443/p?q'],
];
for (const [name, policy, tls, publicPort, location] of gatewayCases) {
  test(`wwwLocation, Gateway API redirect: ${name}`, () => {
    assert.equal(wwwLocation({ ...policy, status: 302 }, { tls, publicPort, host: 'REQ.test:9999', target: '/p?q' }), location);
  });
}

test('wwwLocation keeps an IPv6 literal host in brackets', () => {
  assert.equal(wwwLocation({ port: 8083, status: 302 }, { tls: false, publicPort: 80, host: '[2001:db8::1]:80', target: '/' }), 'http://[2001:db8::1]:8083/');
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

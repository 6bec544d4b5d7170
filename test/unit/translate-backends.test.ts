/*
 * Translate, backends: Service ports by name and number resolved to EndpointSlice endpoints, and
 * references to missing Services or ports (reported, the route kept with an empty backend).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRequest } from '../../src/model/match.ts';
import { load, run, brief, endpointsOf } from './translate-helpers.ts';

const endpointCases: { name: string; path: string; backend: string; endpoints: string[] }[] = [
  {
    name: 'port by name: ready endpoints of every slice, not-ready and terminating excluded, duplicates merged, IPv6 kept',
    path: '/by-name',
    backend: 'shop/web:http',
    endpoints: ['10.0.0.1:8080 web-a', '10.0.0.2:8080 web-b', '10.0.0.5:8080 web-e', '[fd00::5]:8080'],
  },
  {
    name: 'port by number resolves the same Service port',
    path: '/by-number',
    backend: 'shop/web:80',
    endpoints: ['10.0.0.1:8080 web-a', '10.0.0.2:8080 web-b', '10.0.0.5:8080 web-e', '[fd00::5]:8080'],
  },
  {
    name: 'second named port; a slice without that port falls back to the numeric targetPort',
    path: '/metrics',
    backend: 'shop/web:metrics',
    endpoints: ['10.0.0.1:9100 web-a', '10.0.0.2:9100 web-b', '10.0.0.5:9100 web-e', '[fd00::5]:9100'],
  },
  { name: 'numeric targetPort used when the slice lists no ports', path: '/target', backend: 'shop/legacy-target:80', endpoints: ['10.0.1.1:9090'] },
  { name: 'named targetPort with no matching slice port gives no endpoints', path: '/named-target', backend: 'shop/named-target:80', endpoints: [] },
];

for (const c of endpointCases) {
  test(`backends: ${c.name}`, () => {
    const model = run(load('endpoints.yaml'));
    const res = resolveRequest(model, 'api.example.com', c.path);
    assert.equal(res.outcome, 'route');
    assert.equal(res.backend?.id, c.backend);
    assert.deepEqual(endpointsOf(model, c.backend), c.endpoints);
    assert.equal(res.backend?.servicePort, c.backend.slice(c.backend.indexOf(':') + 1).match(/^\d+$/) ? Number(c.backend.split(':')[1]) : c.backend.split(':')[1]);
  });
}

test('backends: an FQDN EndpointSlice is skipped with a warning on the slice; nothing else is reported', () => {
  const model = run(load('endpoints.yaml'));
  assert.deepEqual(brief(model.diagnostics), ['warning PASS_ENDPOINTSLICE_FQDN EndpointSlice shop/web-fqdn addressType']);
  assert.deepEqual(model.diagnostics[0]?.location, { file: 'endpoints.yaml', line: 79 });
});

test('backends: slices of the same Service name in another namespace are not used', () => {
  const model = run(load('endpoints.yaml'));
  for (const b of Object.values(model.backends)) assert.ok(!b.endpoints.some((e) => e.address === '10.9.9.9'));
});

// ---------------------------------------------------------------------------------------------

test('missing Service, unknown port number and name, ExternalName, missing Secret: diagnostics on the Ingress fields', () => {
  const model = run(load('missing.yaml'));
  assert.deepEqual(brief(model.diagnostics), [
    'error PASS_INGRESS_MISSING_SERVICE Ingress default/gaps spec.rules[0].http.paths[0].backend.service.name',
    'error PASS_INGRESS_UNKNOWN_PORT Ingress default/gaps spec.rules[0].http.paths[1].backend.service.port.number',
    'error PASS_INGRESS_UNKNOWN_PORT Ingress default/gaps spec.rules[0].http.paths[2].backend.service.port.name',
    'warning PASS_INGRESS_EXTERNAL_NAME Ingress default/gaps spec.rules[0].http.paths[3].backend.service.name',
    'error PASS_INGRESS_MISSING_SECRET Ingress default/gaps spec.tls[0].secretName',
  ]);
  for (const d of model.diagnostics) assert.equal(d.location?.file, 'missing.yaml');
});

const keptRoutes: [string, string][] = [
  ['/nosvc', 'default/ghost:80'],
  ['/noport', 'default/web:81'],
  ['/noportname', 'default/web:grpc'],
  ['/ext', 'default/external:80'],
];
for (const [path, backend] of keptRoutes) {
  test(`missing references keep the route with an empty backend (503): ${path}`, () => {
    const model = run(load('missing.yaml'));
    const res = resolveRequest(model, 'gaps.example.com', `${path}/x`);
    assert.equal(res.outcome, 'route');
    assert.equal(res.backend?.id, backend);
    assert.deepEqual(res.backend?.endpoints, []);
  });
}
